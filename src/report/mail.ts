import { createTransport } from 'nodemailer';
import { burnDownSvg, svgToPng } from './chart.js';
import type { WeeklyReport } from './model.js';
import { renderHtml, renderMarkdown } from './render.js';

export interface ReportMail {
  subject: string;
  text: string;
  html: string;
  /** The burn-down charts as PNG, shown inline by Content-ID. */
  attachments: Array<{ filename: string; content: Buffer; contentType: string; cid: string }>;
}

const cidOf = (week: string) => (slo: string) => `burndown-${slo}-${week}@alertcenter`;

/** "Maestro weekly SLO review 2026-W49: 1 reliability work first, 1 at risk" */
export function reportSubject(report: WeeklyReport): string {
  const count = (verdict: string) => report.slos.filter((slo) => slo.verdict === verdict).length;
  const parts = [
    count('reliability_work_first') && `${count('reliability_work_first')} reliability work first`,
    count('at_risk') && `${count('at_risk')} at risk`,
    !report.prometheus.available && 'Prometheus unavailable',
  ].filter(Boolean);
  return `Maestro weekly SLO review ${report.week}: ${parts.length === 0 ? 'all SLOs healthy' : parts.join(', ')}`;
}

/**
 * The review as a mail: HTML with each burn-down chart as an inline PNG (multipart/related, by
 * Content-ID: Gmail, Outlook and most webmail show no inline SVG), and the Markdown text as the plain part.
 */
export function composeReportMail(report: WeeklyReport): ReportMail {
  const cid = cidOf(report.week);
  const attachments = report.slos.flatMap((slo) => {
    const svg = burnDownSvg(slo, report.start);
    return svg === null ? [] : [{ filename: `burndown-${slo.name}.png`, content: svgToPng(svg), contentType: 'image/png', cid: cid(slo.name) }];
  });
  return { subject: reportSubject(report), text: renderMarkdown(report), html: renderHtml(report, { kind: 'cid', cidOf: cid }), attachments };
}

/** Sends it over SMTP_URL (nodemailer builds the MIME: alternative text/HTML, related images). */
export async function sendReportMail(mail: ReportMail, smtp: { url: string; from: string; to: string[]; timeoutMs: number }): Promise<string> {
  const transport = createTransport({ url: smtp.url, connectionTimeout: smtp.timeoutMs, greetingTimeout: smtp.timeoutMs, socketTimeout: smtp.timeoutMs });
  try {
    const info = await transport.sendMail({
      from: smtp.from,
      to: smtp.to,
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
      attachments: mail.attachments,
    });
    return info.messageId;
  } finally {
    transport.close();
  }
}
