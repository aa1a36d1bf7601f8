import { encodeWord, encodeWords, foldLines } from 'nodemailer/lib/mime-funcs';
import { encode as quotedPrintable, wrap as wrapQuotedPrintable } from 'nodemailer/lib/qp';
import { parseMailbox } from '../../domain/email-address.js';
import type { ComposedMail } from './message.js';

/** Who the SMTP session names (MAIL FROM, RCPT TO): the raw message below carries no envelope. */
export function envelopeOf(mail: Pick<ComposedMail, 'from' | 'to'>): { from: string; to: string[] } {
  return { from: parseMailbox(mail.from).address, to: mail.to };
}

/**
 * "=_" never occurs in quoted-printable text ("=" is always "=3D" or a soft break at a line's end),
 * so this boundary cannot occur in either part whatever the alert says (RFC 2045, 6.7; RFC 2046, 5.1.1).
 */
const BOUNDARY = '=_alertcenter_alternative';

/**
 * The mail as one MIME message (RFC 5322, 2045-2047): the text and HTML alternatives, quoted-
 * printable, CRLF line ends, no line over 78 characters. Built in one piece so that it leaves in
 * one socket write: nodemailer's own composer streams a mail in ten small writes over as many
 * event-loop turns, and cost more CPU than all the rest of a send (bench/RESULTS.md). Its encoders
 * are still the ones used here.
 */
export function mimeMessage(mail: ComposedMail, date: Date = new Date()): string {
  const headers = [
    ['From', mailboxHeader(mail.from)],
    ['To', mail.to.join(', ')],
    ['Subject', encodeWords(mail.subject, 'Q', 52)],
    ['Message-ID', mail.messageId],
    ...(mail.inReplyTo ? [['In-Reply-To', mail.inReplyTo]] : []),
    ...(mail.references ? [['References', mail.references]] : []),
    ['Date', date.toUTCString().replace(/GMT$/, '+0000')],
    ['MIME-Version', '1.0'],
    ['Content-Type', `multipart/alternative; boundary="${BOUNDARY}"`],
  ];
  return [
    ...headers.map(([name, value]) => foldLines(`${name}: ${value}`, 76)),
    '',
    `--${BOUNDARY}`,
    ...part('text/plain', mail.text),
    `--${BOUNDARY}`,
    ...part('text/html', mail.html),
    `--${BOUNDARY}--`,
    '',
  ].join('\r\n');
}

function part(type: string, content: string): string[] {
  const body = wrapQuotedPrintable(quotedPrintable(Buffer.from(content.replace(/\r?\n/g, '\r\n'))), 76);
  return [`Content-Type: ${type}; charset=utf-8`, 'Content-Transfer-Encoding: quoted-printable', '', body];
}

/** A display name of words and spaces as is; other ASCII quoted; anything else as an encoded word. */
function mailboxHeader(text: string): string {
  const { name, address } = parseMailbox(text);
  if (!name) return address;
  if (/^[\w ]*$/.test(name)) return `${name} <${address}>`;
  if (/^[\x20-\x7e]*$/.test(name)) return `"${name.replace(/["\\]/g, '\\$&')}" <${address}>`;
  return `${encodeWord(name, 'Q', 52)} <${address}>`;
}
