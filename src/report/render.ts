import { burnDownSvg } from './chart.js';
import { type SloReport, type Trend, VERDICT_TEXT, type Verdict, type WeeklyReport } from './model.js';

/** Where a chart goes in the HTML: inline SVG (the page, a file), or an image by Content-ID (mail). */
export type ChartMode = { kind: 'svg' } | { kind: 'cid'; cidOf: (slo: string) => string };

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export const percent = (value: number | null, digits = 1) => (value === null ? 'n/a' : `${(value * 100).toFixed(digits)}%`);
const sli = (value: number | null) => (value === null ? 'n/a' : `${(value * 100).toFixed(3)}%`);

export function duration(seconds: number | null): string {
  if (seconds === null) return 'n/a';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${String(minutes % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

/** "Wed 3 Dec 14:00" in the report's zone. */
export function localTime(iso: string, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone, weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
    .format(new Date(iso))
    .replace(',', '');
}

const localDay = (iso: string, timeZone: string) =>
  new Intl.DateTimeFormat('en-GB', { timeZone, day: 'numeric', month: 'short', year: 'numeric' }).format(new Date(iso));

/** "Mon 1 Dec - Sun 7 Dec 2025": the week's days (its end is the next Monday 00:00). */
export function weekSpan(report: WeeklyReport): string {
  const lastDay = new Date(Date.parse(report.end) - 1).toISOString();
  return `${localDay(report.start, report.timeZone)} to ${localDay(lastDay, report.timeZone)} (${report.timeZone})`;
}

const TREND_TEXT: Record<Trend, string> = { burning_faster: 'burning faster', burning_slower: 'burning slower', steady: 'steady' };
const trendText = (trend: Trend | null) => (trend === null ? 'n/a' : TREND_TEXT[trend]);
const VERDICT_COLOR: Record<Verdict, string> = { reliability_work_first: '#b91c1c', at_risk: '#b45309', healthy: '#15803d', unknown: '#6b7280' };
const SHORT_VERDICT: Record<Verdict, string> = { reliability_work_first: 'reliability work first', at_risk: 'at risk', healthy: 'healthy', unknown: 'unknown' };

function compliance(slo: SloReport): string {
  return slo.figures.compliant === null ? 'n/a' : slo.figures.compliant ? 'compliant' : 'not compliant';
}

function ackText(slo: SloReport): string {
  const { acknowledge } = slo.incidents;
  if (acknowledge.acknowledged === 0) return 'n/a';
  return `median ${duration(acknowledge.medianSeconds)}, longest ${duration(acknowledge.longestSeconds)} (${acknowledge.acknowledged} of ${slo.incidents.count})`;
}

const tiers = (slo: SloReport) => {
  const { critical, warning, info } = slo.incidents.byPeakSeverity;
  return [critical && `${critical} critical`, warning && `${warning} warning`, info && `${info} info`].filter(Boolean).join(', ') || 'none';
};

function prometheusNote(report: WeeklyReport): string | null {
  if (report.prometheus.available) return null;
  return `Prometheus unavailable: the SLO figures, charts and burn episodes are missing (${report.prometheus.error}).`;
}

const NOTES = [
  "Budget figures count events: bad events / (error budget x all events of the SLO period ending at the week's end). Consumed this week and the week before are shares of the budget of the period ending at each week's end.",
  'Burn episodes: runs of hours burning faster than 1x (faster than the budget allows over the period), from the hourly error ratio.',
  'Incidents: those opened during the week; time firing within the week. Time to acknowledge needs an acknowledgement recorded on the incident; "n/a" when none was.',
  'Verdict, per the error budget policy: budget exhausted means reliability work first; under 25% left, at risk; otherwise healthy.',
];

/** The report as one HTML document, styled inline (mail clients drop <style> blocks). */
export function renderHtml(report: WeeklyReport, charts: ChartMode = { kind: 'svg' }): string {
  const tz = report.timeZone;
  const cell = 'style="padding:4px 8px;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top"';
  const head = 'style="padding:4px 8px;border-bottom:2px solid #d1d5db;text-align:left;background:#f9fafb"';
  const verdictBadge = (verdict: Verdict) =>
    `<span style="display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;background:${VERDICT_COLOR[verdict]}">${SHORT_VERDICT[verdict]}</span>`;
  const out: string[] = [];
  out.push(
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">',
    `<title>Maestro weekly SLO review ${escapeHtml(report.week)}</title></head>`,
    '<body style="margin:0;padding:16px;background:#ffffff;color:#1f2933;font-family:DejaVu Sans,Helvetica,Arial,sans-serif;font-size:14px;line-height:1.4">',
    `<h1 style="font-size:20px;margin:0 0 4px">Maestro weekly SLO review: ${escapeHtml(report.week)}</h1>`,
    `<p style="margin:0 0 12px;color:#52606d">${escapeHtml(weekSpan(report))}. Generated ${escapeHtml(localTime(report.generatedAt, tz))}.</p>`,
  );
  const note = prometheusNote(report);
  if (note) out.push(`<p style="padding:8px;border:1px solid #f59e0b;background:#fffbeb">${escapeHtml(note)}</p>`);
  if (!report.incidentsComplete)
    out.push(
      '<p style="padding:8px;border:1px solid #d1d5db;background:#f9fafb">The incident figures may be incomplete: the week has not ended, or part of it is older than the router keeps incidents (40 days).</p>',
    );

  out.push('<h2 style="font-size:16px;margin:16px 0 6px">Summary</h2>', '<table style="border-collapse:collapse;width:100%;max-width:960px">');
  out.push(
    `<tr>${['SLO', 'Objective', 'SLI week', `SLI ${''}period`, 'Budget left', 'Used this week', 'Used week before', 'Trend', 'Incidents', 'Verdict'].map((h) => `<th ${head}>${h}</th>`).join('')}</tr>`,
  );
  for (const slo of report.slos) {
    const f = slo.figures;
    out.push(
      `<tr>${[
        `<b>${escapeHtml(slo.name)}</b>`,
        `${slo.objective}% / ${escapeHtml(slo.period)}`,
        sli(f.sliWeek),
        `${sli(f.sliPeriod)} (${compliance(slo)})`,
        percent(f.budgetRemaining),
        percent(f.consumedThisWeek),
        percent(f.consumedPreviousWeek),
        trendText(f.trend),
        String(slo.incidents.count),
        verdictBadge(slo.verdict),
      ]
        .map((value) => `<td ${cell}>${value}</td>`)
        .join('')}</tr>`,
    );
  }
  out.push('</table>');

  for (const slo of report.slos) {
    const f = slo.figures;
    out.push(
      `<h2 style="font-size:16px;margin:24px 0 4px">${escapeHtml(slo.name)} <span style="font-weight:normal;color:#52606d">(${escapeHtml(slo.service)})</span></h2>`,
    );
    out.push(
      `<p style="margin:0 0 6px">${escapeHtml(slo.description)}. Objective ${slo.objective}% over ${escapeHtml(slo.period)}. Verdict: ${verdictBadge(slo.verdict)} <span style="color:#52606d">${escapeHtml(VERDICT_TEXT[slo.verdict])}</span></p>`,
    );
    out.push(
      '<table style="border-collapse:collapse;margin:4px 0 8px">',
      ...[
        ['SLI over the week', sli(f.sliWeek)],
        [`SLI over ${slo.period} at the week's end`, `${sli(f.sliPeriod)} (${compliance(slo)})`],
        ["Error budget left at the week's end", percent(f.budgetRemaining)],
        ['Budget consumed this week / the week before', `${percent(f.consumedThisWeek)} / ${percent(f.consumedPreviousWeek)} (${trendText(f.trend)})`],
        ['Incidents (by highest tier)', `${slo.incidents.count} (${tiers(slo)})`],
        ['Time firing / pages sent / flaps', `${duration(slo.incidents.firingSeconds)} / ${slo.incidents.pages} / ${slo.incidents.flaps}`],
        ['Time to acknowledge', ackText(slo)],
      ].map(([label, value]) => `<tr><td ${cell}>${escapeHtml(label!)}</td><td ${cell}><b>${escapeHtml(value!)}</b></td></tr>`),
      '</table>',
    );
    const svg = charts.kind === 'svg' ? burnDownSvg(slo, report.start) : null;
    if (charts.kind === 'svg' && svg) out.push(`<div style="max-width:640px">${svg}</div>`);
    if (charts.kind === 'cid' && f.burnDown) {
      out.push(
        `<img src="cid:${escapeHtml(charts.cidOf(slo.name))}" width="640" height="240" alt="${escapeHtml(`${slo.name}: error budget burn-down against the ideal line`)}" style="display:block;max-width:100%;height:auto;border:0">`,
      );
    }
    if (f.episodes.length > 0) {
      out.push('<p style="margin:8px 0 2px"><b>Largest burn episodes</b></p><table style="border-collapse:collapse">');
      out.push(`<tr>${['Start', 'Duration', 'Budget consumed', 'Peak burn'].map((h) => `<th ${head}>${h}</th>`).join('')}</tr>`);
      for (const episode of f.episodes) {
        out.push(
          `<tr><td ${cell}>${escapeHtml(localTime(episode.start, tz))}</td><td ${cell}>${duration(episode.durationSeconds)}</td><td ${cell}>${percent(episode.budgetConsumed)}</td><td ${cell}>${episode.peakBurnRate.toFixed(1)}x</td></tr>`,
        );
      }
      out.push('</table>');
    } else if (report.prometheus.available) out.push('<p style="margin:8px 0 2px;color:#52606d">No hour burnt faster than the budget allows.</p>');
    if (slo.incidents.incidents.length > 0) {
      out.push('<p style="margin:8px 0 2px"><b>Incidents</b></p><table style="border-collapse:collapse">');
      out.push(
        `<tr>${['Opened', 'Alert', 'Highest tier', 'Firing', 'Pages', 'Acknowledged after', 'State'].map((h) => `<th ${head}>${h}</th>`).join('')}</tr>`,
      );
      for (const incident of slo.incidents.incidents) {
        out.push(
          `<tr>${[
            localTime(incident.openedAt, tz),
            incident.alertname,
            incident.peakSeverity,
            duration(incident.firingSeconds),
            String(incident.pages),
            duration(incident.acknowledgeSeconds),
            incident.state,
          ]
            .map((value) => `<td ${cell}>${escapeHtml(value)}</td>`)
            .join('')}</tr>`,
        );
      }
      out.push('</table>');
    }
    const links = [
      slo.dashboardUrl && `<a href="${escapeHtml(slo.dashboardUrl)}">dashboard</a>`,
      slo.runbookUrl && `<a href="${escapeHtml(slo.runbookUrl)}">runbook</a>`,
    ].filter(Boolean);
    if (links.length > 0) out.push(`<p style="margin:6px 0 0">${links.join(' · ')}</p>`);
  }

  out.push('<h2 style="font-size:16px;margin:24px 0 6px">Reliability work: SLOs by budget burned this week</h2><ol>');
  for (const entry of report.priorities)
    out.push(`<li><b>${escapeHtml(entry.slo)}</b>: ${percent(entry.consumedThisWeek)} of its budget, ${SHORT_VERDICT[entry.verdict]}</li>`);
  out.push('</ol>', `<p style="color:#52606d;font-size:12px">${NOTES.map(escapeHtml).join('<br>')}</p>`, '</body></html>');
  return out.join('\n');
}

/** The report as Markdown: the CLI's `--format markdown`, and the mail's text part. */
export function renderMarkdown(report: WeeklyReport): string {
  const tz = report.timeZone;
  const out: string[] = [`# Maestro weekly SLO review: ${report.week}`, '', `${weekSpan(report)}. Generated ${localTime(report.generatedAt, tz)}.`, ''];
  const note = prometheusNote(report);
  if (note) out.push(`> ${note}`, '');
  if (!report.incidentsComplete)
    out.push('> The incident figures may be incomplete: the week has not ended, or part of it is older than the router keeps incidents (40 days).', '');
  out.push(
    '## Summary',
    '',
    '| SLO | Objective | SLI week | SLI period | Budget left | Used this week | Used week before | Trend | Incidents | Verdict |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const slo of report.slos) {
    const f = slo.figures;
    out.push(
      `| ${slo.name} | ${slo.objective}% / ${slo.period} | ${sli(f.sliWeek)} | ${sli(f.sliPeriod)} (${compliance(slo)}) | ${percent(f.budgetRemaining)} | ${percent(f.consumedThisWeek)} | ${percent(f.consumedPreviousWeek)} | ${trendText(f.trend)} | ${slo.incidents.count} | ${SHORT_VERDICT[slo.verdict]} |`,
    );
  }
  for (const slo of report.slos) {
    const f = slo.figures;
    out.push(
      '',
      `## ${slo.name} (${slo.service})`,
      '',
      `${slo.description}. Objective ${slo.objective}% over ${slo.period}.`,
      `**Verdict: ${VERDICT_TEXT[slo.verdict]}.**`,
      '',
      `- SLI over the week: ${sli(f.sliWeek)}; over ${slo.period} at the week's end: ${sli(f.sliPeriod)} (${compliance(slo)})`,
      `- Error budget left at the week's end: ${percent(f.budgetRemaining)}`,
      `- Budget consumed this week: ${percent(f.consumedThisWeek)}; the week before: ${percent(f.consumedPreviousWeek)} (${trendText(f.trend)})`,
      `- Incidents: ${slo.incidents.count} (${tiers(slo)}); time firing ${duration(slo.incidents.firingSeconds)}; pages sent ${slo.incidents.pages}; flaps ${slo.incidents.flaps}`,
      `- Time to acknowledge: ${ackText(slo)}`,
    );
    if (f.episodes.length > 0) {
      out.push('', 'Largest burn episodes:', '');
      for (const episode of f.episodes)
        out.push(
          `1. ${localTime(episode.start, tz)}, ${duration(episode.durationSeconds)}: ${percent(episode.budgetConsumed)} of the budget (peak ${episode.peakBurnRate.toFixed(1)}x)`,
        );
    }
    if (slo.incidents.incidents.length > 0) {
      out.push('', 'Incidents:', '');
      for (const incident of slo.incidents.incidents) {
        out.push(
          `- ${localTime(incident.openedAt, tz)} ${incident.alertname} (${incident.peakSeverity}): firing ${duration(incident.firingSeconds)}, ${incident.pages} page(s), acknowledged after ${duration(incident.acknowledgeSeconds)}, ${incident.state}`,
        );
      }
    }
  }
  out.push('', '## Reliability work: SLOs by budget burned this week', '');
  for (const entry of report.priorities) out.push(`1. ${entry.slo}: ${percent(entry.consumedThisWeek)} of its budget (${SHORT_VERDICT[entry.verdict]})`);
  out.push('', ...NOTES.map((line) => `_${line}_`), '');
  return out.join('\n');
}

export type ReportFormat = 'html' | 'markdown' | 'json';

export function renderReport(report: WeeklyReport, format: ReportFormat): string {
  if (format === 'json') return `${JSON.stringify(report, null, 2)}\n`;
  if (format === 'markdown') return renderMarkdown(report);
  return renderHtml(report);
}
