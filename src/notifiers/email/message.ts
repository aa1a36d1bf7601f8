import { createHash } from 'node:crypto';
import { formatDateTime } from '../render/format.js';
import { type IncidentView, renderIncident } from '../render/incident-view.js';
import { escapeHtml, singleLine, truncate } from '../render/text.js';
import type { SyncContext } from '../types.js';

/** No SMTP limit applies; these keep a flood of label text from making an unreadable mail. */
export const EMAIL_LIMITS = { subject: 200, field: 20_000 };

export interface MailAddressing {
  from: string;
  to: string[];
}

/** What a mail carries, minus transport concerns. */
export interface ComposedMail extends MailAddressing {
  subject: string;
  text: string;
  html: string;
  messageId: string;
  inReplyTo?: string;
  references?: string;
}

export interface IncidentMail extends ComposedMail {
  /** The thread's first Message-ID: every reply refers to it. */
  threadId: string;
}

/**
 * One thread per incident and receiver: the first mail, then replies (In-Reply-To and References
 * name the first mail) under one subject for the incident's whole life, so that clients that thread
 * by subject (Gmail) keep it together. The Message-IDs are derived from (incident, receiver, the
 * number of the mail in the thread), so a retried send carries the same Message-ID again and the
 * thread needs nothing stored but the notification log.
 */
export function composeIncidentMail(context: SyncContext, addressing: MailAddressing): IncidentMail {
  const { incident, told, receiver } = context;
  const view = renderIncident(incident, context.now);
  const domain = messageIdDomain(addressing.from);
  const thread = createHash('sha256')
    .update(JSON.stringify([incident.id, receiver]))
    .digest('hex')
    .slice(0, 32);
  const number = (told?.sent ?? 0) + 1;
  const threadId = told?.receipt.email?.threadId ?? `<alertcenter.${thread}.1@${domain}>`;
  const messageId = number === 1 ? threadId : `<alertcenter.${thread}.${number}@${domain}>`;
  const subject = truncate(singleLine(threadSubject(view, incident.service, incident.openedAt)), EMAIL_LIMITS.subject);
  const lead = leadLine(context, view);
  return {
    ...addressing,
    subject: number === 1 ? subject : `Re: ${subject}`,
    text: plainText(view, lead),
    html: html(view, lead),
    messageId,
    threadId,
    ...(number === 1 ? {} : { inReplyTo: threadId, references: threadId }),
  };
}

/** `api-latency SLO on maestro-api: incident opened 27 Nov 2026 10:00 UTC`: nothing in it changes while the incident lives. */
export function threadSubject(view: IncidentView, service: string | null, openedAt: string): string {
  const opened = formatDateTime(openedAt) ?? openedAt;
  const where = service === null || view.subject.includes(service) ? '' : ` on ${service}`;
  return `${view.subject}${where}: incident opened ${opened}`;
}

/** What this mail says happened; the title follows with the incident as it stands. */
function leadLine(context: SyncContext, view: IncidentView): string {
  const from = (context.told?.severity ?? context.incident.peakSeverity).toUpperCase();
  const to = context.incident.severity.toUpperCase();
  switch (context.decision) {
    case 'first_notification':
      return view.state === 'resolved' ? 'Resolved before it could be told.' : `New incident, ${to}.`;
    case 'escalated':
      return `Escalated from ${from} to ${to}.`;
    case 'de_escalated':
      return `De-escalated from ${from} to ${to}.`;
    case 'reminder_due':
      return `Reminder: still firing at ${to}.`;
    case 'resolved':
      return 'Resolved.';
    case 'figures_changed':
      return 'The figures changed.';
    // Not among email's interests; said plainly should a receiver ask for them.
    case 'acknowledged':
      return `Acknowledged by ${context.incident.acknowledged?.by ?? 'someone'}.`;
    case 'unacknowledged':
      return 'No longer acknowledged.';
    case 'status_changed':
      return 'Its silence or PagerDuty state changed.';
  }
}

/** The sender's domain, so the ids look like the site's own; a safe default otherwise. */
function messageIdDomain(from: string): string {
  return /@([A-Za-z0-9.-]+)>?\s*$/.exec(from)?.[1] ?? 'alertcenter.local';
}

function plainText(view: IncidentView, lead: string): string {
  const field = (text: string) => truncate(text, EMAIL_LIMITS.field);
  const sections = [
    `${lead}\n${singleLine(view.title)}`,
    field(view.headline),
    view.facts.map((fact) => `${fact.label}: ${field(fact.value)}`).join('\n'),
    view.tiers.length === 0 ? '' : `Tiers:\n${view.tiers.map((tier) => `- ${field(tier.text)}`).join('\n')}`,
    view.summary === null ? '' : field(view.summary),
    view.description === null ? '' : field(view.description),
    view.links.map((link) => `${link.label}: ${link.url}`).join('\n'),
    view.labels.length === 0 ? '' : `Labels: ${field(labelList(view))}`,
  ];
  return `${sections.filter((section) => section !== '').join('\n\n')}\n`;
}

function html(view: IncidentView, lead: string): string {
  const field = (text: string) => truncate(text, EMAIL_LIMITS.field, escapeHtml).replace(/\r?\n/g, '<br>');
  const rows = view.facts
    .map((fact) => `<tr><th align="left" style="padding-right:12px">${escapeHtml(fact.label)}</th><td>${field(fact.value)}</td></tr>`)
    .join('\n');
  const tiers = view.tiers.map((tier) => `<li>${field(tier.text)}</li>`).join('');
  const links = view.links.map((link) => `<a href="${escapeHtml(link.url)}">${escapeHtml(link.label)}</a>`).join(' &middot; ');
  const parts = [
    `<p><strong>${escapeHtml(lead)}</strong></p>`,
    `<h2 style="color:${view.color}">${escapeHtml(singleLine(view.title))}</h2>`,
    `<p>${field(view.headline)}</p>`,
    `<table>\n${rows}\n</table>`,
    tiers === '' ? '' : `<ul>${tiers}</ul>`,
    view.summary === null ? '' : `<p>${field(view.summary)}</p>`,
    view.description === null ? '' : `<p>${field(view.description)}</p>`,
    links === '' ? '' : `<p>${links}</p>`,
    view.labels.length === 0 ? '' : `<p style="color:#666;font-size:smaller">Labels: ${field(labelList(view))}</p>`,
  ];
  return `<!doctype html>\n<html><body style="font-family:sans-serif">\n${parts.filter((part) => part !== '').join('\n')}\n</body></html>\n`;
}

function labelList(view: IncidentView): string {
  return view.labels.map(([name, value]) => `${name}=${value}`).join(', ');
}
