import { episodeId } from '../episode.js';
import { colorOf, renderAlert, type AlertView } from '../render/alert-view.js';
import { escapeHtml, singleLine, truncate } from '../../render/text.js';
import type { Notification } from '../../types.js';

/** No SMTP limit applies; these keep a flood of label text from making an unreadable mail. */
export const EMAIL_LIMITS = { subject: 200, field: 20_000 };

export interface MailAddressing {
  from: string;
  to: string[];
}

/** What nodemailer's sendMail takes, minus transport concerns. */
export interface ComposedMail extends MailAddressing {
  subject: string;
  text: string;
  html: string;
  messageId: string;
  inReplyTo?: string;
  references?: string;
}

/**
 * The firing mail's Message-ID is derived from (receiver, fingerprint, startsAt), so the
 * resolved mail can thread under it (In-Reply-To, References) without storing anything.
 */
export function composeMail(notification: Notification, addressing: MailAddressing): ComposedMail {
  const view = renderAlert(notification.alert);
  const domain = messageIdDomain(addressing.from);
  const firingId = `<alertcenter.${episodeId(notification)}@${domain}>`;
  const threading =
    view.status === 'firing'
      ? { messageId: firingId }
      : {
          messageId: `<alertcenter.${episodeId(notification)}.resolved@${domain}>`,
          inReplyTo: firingId,
          references: firingId,
        };
  return {
    ...addressing,
    subject: truncate(singleLine(view.title), EMAIL_LIMITS.subject),
    text: plainText(view),
    html: html(view),
    ...threading,
  };
}

/** The sender's domain, so the ids look like the site's own; a safe default otherwise. */
function messageIdDomain(from: string): string {
  return /@([A-Za-z0-9.-]+)>?\s*$/.exec(from)?.[1] ?? 'alertcenter.local';
}

function plainText(view: AlertView): string {
  const field = (text: string) => truncate(text, EMAIL_LIMITS.field);
  const sections = [
    singleLine(view.title),
    view.facts.map((fact) => `${fact.label}: ${field(fact.value)}`).join('\n'),
    view.summary === null ? '' : field(view.summary),
    view.description === null ? '' : field(view.description),
    view.links.map((link) => `${link.label}: ${link.url}`).join('\n'),
    view.labels.length === 0 ? '' : `Labels: ${field(labelList(view))}`,
  ];
  return `${sections.filter((section) => section !== '').join('\n\n')}\n`;
}

function html(view: AlertView): string {
  const field = (text: string) => truncate(text, EMAIL_LIMITS.field, escapeHtml).replace(/\r?\n/g, '<br>');
  const rows = view.facts
    .map((fact) => `<tr><th align="left" style="padding-right:12px">${escapeHtml(fact.label)}</th><td>${field(fact.value)}</td></tr>`)
    .join('\n');
  const links = view.links.map((link) => `<a href="${escapeHtml(link.url)}">${escapeHtml(link.label)}</a>`).join(' &middot; ');
  const parts = [
    `<h2 style="color:${colorOf(view)}">${escapeHtml(singleLine(view.title))}</h2>`,
    `<table>\n${rows}\n</table>`,
    view.summary === null ? '' : `<p>${field(view.summary)}</p>`,
    view.description === null ? '' : `<p>${field(view.description)}</p>`,
    links === '' ? '' : `<p>${links}</p>`,
    view.labels.length === 0 ? '' : `<p style="color:#666;font-size:smaller">Labels: ${field(labelList(view))}</p>`,
  ];
  return `<!doctype html>\n<html><body style="font-family:sans-serif">\n${parts.filter((part) => part !== '').join('\n')}\n</body></html>\n`;
}

function labelList(view: AlertView): string {
  return view.labels.map(([name, value]) => `${name}=${value}`).join(', ');
}
