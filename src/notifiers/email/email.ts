import { createTransport, type NodemailerError } from 'nodemailer';
import type { SyncDecision } from '../../incidents/types.js';
import { describeError, Failures } from '../failures.js';
import type { DeliveryError, IncidentNotifier, SyncContext, SyncResult } from '../types.js';
import { composeIncidentMail } from './message.js';
import { envelopeOf, mimeMessage } from './mime.js';

export interface EmailNotifierOptions {
  receiver: string;
  to: string[];
  from: string;
  /** SMTP_URL: smtps:// for implicit TLS, smtp:// for STARTTLS when the server offers it. */
  smtpUrl: string;
  /** Each SMTP wait: connecting, the greeting, every reply. */
  timeoutMs: number;
  /**
   * SMTP connections the pool may open: one per delivery slot of the channel. With fewer, a send
   * waits in the pool's queue while its deadline runs, behind connections a slow relay holds.
   */
  connections: number;
  /** Extra CA certificates (PEM) to trust, e.g. a private relay's. */
  ca?: string | Buffer;
}

/** SMTP replies that refuse the credentials. */
const AUTH_REPLIES = new Set([530, 534, 535, 538]);
/** SMTP replies that refuse the mailbox. */
const MAILBOX_REPLIES = new Set([550, 551, 553]);

/** A mail for each change on-call acts on; a figures-only change waits for the next one. */
export const EMAIL_INTERESTS: ReadonlySet<SyncDecision> = new Set(['first_notification', 'escalated', 'de_escalated', 'reminder_due', 'resolved']);

/**
 * One mail thread per incident and receiver over a pooled SMTP transport: the first mail, then a
 * reply on escalation, de-escalation, reminder and resolve (see composeIncidentMail). At least once:
 * a send whose answer was lost is sent again, with the same Message-ID.
 */
export class EmailNotifier implements IncidentNotifier {
  readonly kind = 'email';
  readonly dryRun = false;
  readonly interests = EMAIL_INTERESTS;
  readonly minUpdateIntervalMs = 0;
  private readonly transport;
  private readonly failures: Failures;

  constructor(private readonly options: EmailNotifierOptions) {
    this.transport = createTransport({
      url: options.smtpUrl,
      pool: true,
      maxConnections: options.connections,
      // The queue retries; nodemailer would otherwise requeue a message whose connection dropped.
      maxRequeues: 0,
      connectionTimeout: options.timeoutMs,
      greetingTimeout: options.timeoutMs,
      socketTimeout: options.timeoutMs,
      ...(options.ca === undefined ? {} : { tls: { ca: options.ca } }),
    });
    this.failures = new Failures('email', options.receiver, [options.smtpUrl, ...urlCredentials(options.smtpUrl)]);
  }

  async notify(context: SyncContext, signal: AbortSignal): Promise<SyncResult> {
    const mail = composeIncidentMail(context, { from: this.options.from, to: this.options.to });
    try {
      // messageId only spares nodemailer drawing a random one to log: the raw message carries ours.
      await this.transport.sendMail({ envelope: envelopeOf(mail), raw: mimeMessage(mail), messageId: mail.messageId, signal });
    } catch (error) {
      throw this.classify(error as NodemailerError, signal);
    }
    return { action: 'sent', receipt: { email: { threadId: mail.threadId, lastMessageId: mail.messageId } } };
  }

  async close(): Promise<void> {
    this.transport.close();
  }

  private classify(error: NodemailerError, signal: AbortSignal): DeliveryError {
    if (error.code === 'EABORT') return this.failures.aborted(signal, this.options.timeoutMs);
    if (typeof error.responseCode === 'number') return this.fromReply(error.responseCode, error);
    switch (error.code) {
      case 'ETIMEDOUT':
        return this.failures.error('timeout', `no answer within ${this.options.timeoutMs} ms (${error.timeoutType ?? 'SMTP'})`, true);
      case 'ECONNECTION':
      case 'ESOCKET':
      case 'EDNS':
      case 'ETLS':
      case 'EPROXY':
        return this.failures.network(error);
      case 'EAUTH':
      case 'ENOAUTH':
        return this.failures.error('auth', describeError(error), false);
      case 'EENVELOPE':
      case 'EMESSAGE':
      case 'EMAXRECIPIENTS':
      case 'ECONFIG':
        return this.failures.error('bad_request', describeError(error), false);
      default:
        return this.failures.unknown(error);
    }
  }

  /** 4xx (and 503) may pass on a later attempt; any other 5xx refuses this mail for good. */
  private fromReply(code: number, error: NodemailerError): DeliveryError {
    const detail = `SMTP ${error.response ?? `${code} ${error.message}`}`;
    const permanent = error.permanent ?? (code >= 500 && code !== 503);
    if (!permanent) return this.failures.error('server_error', detail, true);
    if (AUTH_REPLIES.has(code)) return this.failures.error('auth', detail, false);
    if (MAILBOX_REPLIES.has(code)) return this.failures.error('not_found', detail, false);
    return this.failures.error('bad_request', detail, false);
  }
}

/** User and password as written in the URL and decoded: a server reply may echo either form. */
function urlCredentials(smtpUrl: string): string[] {
  try {
    const { username, password } = new URL(smtpUrl);
    return [password, decodeURIComponent(password), username, decodeURIComponent(username)];
  } catch {
    return [];
  }
}
