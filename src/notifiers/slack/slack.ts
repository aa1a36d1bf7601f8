import { WebAPIHTTPError, WebAPIPlatformError, WebAPIRateLimitedError, WebAPIRequestError, WebClient } from '@slack/web-api';
import type { SyncDecision } from '../../incidents/types.js';
import type { Logger } from '../../observability/logger.js';
import { Failures } from '../failures.js';
import { type IncidentView, renderIncident } from '../render/incident-view.js';
import type { DeliveryError, IncidentNotifier, SyncContext, SyncResult } from '../types.js';
import { slackClientLogger } from './client-logger.js';
import { composeSlackMessage, composeThreadReply, INCIDENT_EVENT_TYPE, REPLY_DECISIONS, type SlackMessage, type SlackMetadata } from './message.js';

export interface SlackNotifierOptions {
  receiver: string;
  /** Channel name or id, as routes.yaml names it. */
  channel: string;
  token: string;
  /** SLACK_API_URL, e.g. https://slack.com/api/ */
  apiUrl: string;
  timeoutMs: number;
  /** Least time between two updates of one incident's message (Slack rate-limits chat.update per channel). Default 3000. */
  minUpdateIntervalMs?: number;
  /** PUBLIC_URL: the message links to the incident on the AlertCenter page. */
  publicUrl?: string;
  /** Bounds of the search for a message posted before a crash (see `findPosted`). */
  lookup?: { pageSize?: number; maxPages?: number };
  logger: Logger;
}

/** Where an incident's message lives: chat.update and conversations.history take the channel id. */
export interface SlackMessageRef {
  channel: string;
  ts: string;
}

export const DEFAULT_SLACK_UPDATE_INTERVAL_MS = 3000;
/** 200 messages a page (Slack's advice for paginated methods), 10 pages: the newest 2,000 messages since the incident opened. */
const DEFAULT_LOOKUP = { pageSize: 200, maxPages: 10 };
/** The message is posted after the incident opened; this much earlier absorbs clocks that disagree. */
const LOOKUP_CLOCK_SLACK_MS = 5 * 60_000;
/** conversations.list pages looked through for a channel name. */
const CHANNEL_LIST_MAX_PAGES = 20;

/** Untrusted text stays text: no @name linking, no automatic parsing. */
const NO_PARSING = { link_names: false, parse: 'none' } as const;
const NO_UNFURLS = { unfurl_links: false, unfurl_media: false } as const;

/** Slack's `{ok:false, error}` codes that say the token cannot post. */
const AUTH_ERRORS = new Set([
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'no_permission',
  'missing_scope',
  'not_allowed_token_type',
  'team_access_not_granted',
  'ekm_access_denied',
  'access_denied',
]);
const NOT_FOUND_ERRORS = new Set(['channel_not_found', 'not_in_channel', 'is_archived', 'message_not_found']);
/** Slack's own trouble: worth another attempt. Every other error code refuses the request as sent. */
const TRANSIENT_ERRORS = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout']);
/** Codes that say the token may not read the channel (a scope or membership is missing): the lookup cannot be made. */
const CANNOT_READ_ERRORS = new Set([...AUTH_ERRORS, 'not_in_channel', 'channel_not_found']);

/** Every change: the message shows the incident as it stands. */
export const SLACK_INTERESTS: ReadonlySet<SyncDecision> = new Set([
  'first_notification',
  'escalated',
  'de_escalated',
  'figures_changed',
  'resolved',
  'reminder_due',
  'acknowledged',
  'unacknowledged',
  'status_changed',
]);

/**
 * One message per incident and receiver, updated in place (`chat.update`) on every change, with a
 * reply in its thread for each escalation, de-escalation, reminder and the resolve. The message
 * carries metadata naming the incident, so a sync that may have posted it before a crash or a
 * timeout finds it again (`conversations.history`) instead of posting a second one; each reply
 * carries metadata naming its notification, so such a sync finds it too (`conversations.replies`).
 */
export class SlackNotifier implements IncidentNotifier {
  readonly kind = 'slack';
  readonly dryRun = false;
  readonly interests = SLACK_INTERESTS;
  readonly minUpdateIntervalMs: number;
  private readonly failures: Failures;
  private readonly logger: Logger;
  private readonly lookup: { pageSize: number; maxPages: number };
  /**
   * Shared by all sends: building a client binds every method of the Web API, a third of a send's
   * CPU (bench/RESULTS.md). It takes no per-call signal, so each call is bounded by the client's
   * timeout, and a send stops waiting when its caller's signal aborts (see `untilAborted`).
   */
  private readonly slack: WebClient;
  /** The receiver's channel id: as configured when it is one, else as Slack last answered it, else looked up. */
  private channelId: string | null;

  constructor(private readonly options: SlackNotifierOptions) {
    this.failures = new Failures('slack', options.receiver, [options.token]);
    this.logger = options.logger.child({ receiver: options.receiver, channel: 'slack' });
    this.minUpdateIntervalMs = options.minUpdateIntervalMs ?? DEFAULT_SLACK_UPDATE_INTERVAL_MS;
    this.lookup = { ...DEFAULT_LOOKUP, ...options.lookup };
    this.channelId = isChannelId(options.channel) ? options.channel : null;
    this.slack = new WebClient(options.token, {
      slackApiUrl: options.apiUrl,
      timeout: options.timeoutMs,
      // The queue retries with backoff; the client's default keeps trying for about 30 minutes.
      retryConfig: { retries: 0 },
      // Throw on 429 instead of sleeping through Retry-After, so the queue can pause the channel.
      rejectRateLimitedCalls: true,
      // Every delivery slot's call goes out at once; the delivery concurrency is the limit.
      maxRequestConcurrency: Number.POSITIVE_INFINITY,
      logger: slackClientLogger(this.logger),
    });
  }

  async notify(context: SyncContext, signal: AbortSignal): Promise<SyncResult> {
    const view = renderIncident(context.incident, context.now, { publicUrl: this.options.publicUrl });
    try {
      return await untilAborted(signal, this.sync(context, view, signal));
    } catch (error) {
      throw this.classify(error, signal);
    }
  }

  async close(): Promise<void> {}

  private async sync(context: SyncContext, view: IncidentView, signal: AbortSignal): Promise<SyncResult> {
    const message = composeSlackMessage(view, context.receiver);
    let posted: SlackMessageRef | null = context.told?.receipt.slack ?? null;
    if (posted === null && context.uncertain) {
      // An earlier attempt may have posted before its receipt was written: find that message, post no second one.
      posted = await this.findPosted(context, signal);
      if (posted !== null) this.logger.info({ incident: context.incident.id, ts: posted.ts }, 'found the message an earlier attempt posted');
    }
    signal.throwIfAborted();
    if (posted === null) return { action: 'posted', receipt: { slack: await this.post(message) } };
    const updated = await this.update(posted, message);
    if (updated === null) {
      // Deleted in Slack meanwhile: the incident gets a message again rather than no message.
      this.logger.warn({ incident: context.incident.id, ts: posted.ts }, 'the incident message is gone; posting it again');
      signal.throwIfAborted();
      return { action: 'posted', receipt: { slack: await this.post(message) } };
    }
    if (!REPLY_DECISIONS.has(context.decision)) return { action: 'updated', receipt: { slack: posted } };
    const reply = composeThreadReply(context, view);
    // The update above is idempotent; a reply is not: an uncertain attempt may have left it already.
    if (context.uncertain && (await this.findReply(posted, reply.metadata, context, signal))) {
      return { action: 'replied', receipt: { slack: posted } };
    }
    signal.throwIfAborted();
    await this.slack.chat.postMessage({ channel: posted.channel, thread_ts: posted.ts, ...reply, ...NO_PARSING, ...NO_UNFURLS });
    return { action: 'replied', receipt: { slack: posted } };
  }

  /** A new message in the receiver's channel; where Slack put it. */
  private async post(message: SlackMessage): Promise<SlackMessageRef> {
    const { channel, ts } = await this.slack.chat.postMessage({ channel: this.options.channel, ...message, ...NO_PARSING, ...NO_UNFURLS });
    if (!channel || !ts) throw this.failures.error('invalid_response', 'chat.postMessage answered without channel or ts', false);
    this.channelId ??= channel;
    return { channel, ts };
  }

  /** The message updated in place; null when Slack no longer has it. */
  private async update(posted: SlackMessageRef, message: SlackMessage): Promise<SlackMessageRef | null> {
    try {
      await this.slack.chat.update({ channel: posted.channel, ts: posted.ts, ...message, ...NO_PARSING });
      return posted;
    } catch (error) {
      if (error instanceof WebAPIPlatformError && error.data.error === 'message_not_found') return null;
      throw error;
    }
  }

  /**
   * The message an earlier attempt posted for this incident and receiver, found by its metadata in
   * the channel's history since the incident opened: newest first, `pageSize` a page, at most
   * `maxPages` pages. Null when it is not there (nothing was posted), and also when the token may
   * not read the channel: then a second message is possible, and said in the log, but nothing is lost.
   */
  private async findPosted(context: SyncContext, signal: AbortSignal): Promise<SlackMessageRef | null> {
    const { incident, receiver } = context;
    try {
      const channel = await this.resolveChannelId(signal);
      if (channel === null) {
        this.logger.warn({ incident: incident.id }, `cannot look for an earlier message: no channel id known for ${this.options.channel}`);
        return null;
      }
      const oldest = Math.max(0, Date.parse(incident.openedAt) - LOOKUP_CLOCK_SLACK_MS);
      let cursor: string | undefined;
      for (let page = 0; page < this.lookup.maxPages; page += 1) {
        signal.throwIfAborted();
        const history = await this.slack.conversations.history({
          channel,
          oldest: slackTs(oldest),
          inclusive: true,
          include_all_metadata: true,
          limit: this.lookup.pageSize,
          ...(cursor === undefined ? {} : { cursor }),
        });
        for (const message of history.messages ?? []) {
          const payload = message.metadata?.event_payload as Record<string, unknown> | undefined;
          if (
            message.ts !== undefined &&
            message.metadata?.event_type === INCIDENT_EVENT_TYPE &&
            payload?.incident_id === incident.id &&
            payload.receiver === receiver
          ) {
            return { channel, ts: message.ts };
          }
        }
        cursor = history.response_metadata?.next_cursor || undefined;
        if (!history.has_more || cursor === undefined) return null;
      }
      this.logger.warn({ incident: incident.id, pages: this.lookup.maxPages }, 'no earlier message within the bounded history search');
      return null;
    } catch (error) {
      if (error instanceof WebAPIPlatformError && CANNOT_READ_ERRORS.has(error.data.error)) {
        this.logger.warn(
          { incident: incident.id, error: error.data.error },
          'cannot read the channel to look for an earlier message (needs channels:history, or groups:history for a private channel); posting',
        );
        return null;
      }
      throw error;
    }
  }

  /**
   * Whether the thread already holds the reply this notification would leave (its metadata names
   * the incident, the receiver and the notification's number), looked for with conversations.replies
   * within the same bounds as the message. False when the token may not read the thread (warned).
   */
  private async findReply(posted: SlackMessageRef, metadata: SlackMetadata, context: SyncContext, signal: AbortSignal): Promise<boolean> {
    const wanted = metadata.event_payload;
    try {
      let cursor: string | undefined;
      for (let page = 0; page < this.lookup.maxPages; page += 1) {
        signal.throwIfAborted();
        const replies = await this.slack.conversations.replies({
          channel: posted.channel,
          ts: posted.ts,
          include_all_metadata: true,
          limit: this.lookup.pageSize,
          ...(cursor === undefined ? {} : { cursor }),
        });
        const found = (replies.messages ?? []).some((message) => {
          const payload = message.metadata?.event_payload as Record<string, unknown> | undefined;
          return (
            message.ts !== posted.ts &&
            message.metadata?.event_type === metadata.event_type &&
            payload !== undefined &&
            ['incident_id', 'receiver', 'sent'].every((name) => payload[name] === wanted[name])
          );
        });
        if (found) {
          this.logger.info({ incident: context.incident.id, ts: posted.ts }, 'found the thread reply an earlier attempt left');
          return true;
        }
        cursor = replies.response_metadata?.next_cursor || undefined;
        if (!replies.has_more || cursor === undefined) return false;
      }
      return false;
    } catch (error) {
      if (error instanceof WebAPIPlatformError && CANNOT_READ_ERRORS.has(error.data.error)) {
        this.logger.warn({ incident: context.incident.id, error: error.data.error }, 'cannot read the thread to look for an earlier reply; replying');
        return false;
      }
      throw error;
    }
  }

  /**
   * The receiver's channel id: conversations.history takes ids only, and routes.yaml may name the
   * channel (`#maestro-alerts`). An id is used as configured; otherwise the id Slack answered to an
   * earlier post of this process, otherwise the channel looked up by name with conversations.list
   * (public and private channels the token sees, needs channels:read / groups:read). Cached.
   */
  private async resolveChannelId(signal: AbortSignal): Promise<string | null> {
    if (this.channelId !== null) return this.channelId;
    const name = this.options.channel.replace(/^#/, '');
    let cursor: string | undefined;
    for (let page = 0; page < CHANNEL_LIST_MAX_PAGES; page += 1) {
      signal.throwIfAborted();
      const list = await this.slack.conversations.list({
        types: 'public_channel,private_channel',
        exclude_archived: true,
        limit: 1000,
        ...(cursor === undefined ? {} : { cursor }),
      });
      const found = list.channels?.find((channel) => channel.name === name && channel.id);
      if (found?.id) {
        this.channelId = found.id;
        return found.id;
      }
      cursor = list.response_metadata?.next_cursor || undefined;
      if (cursor === undefined) return null;
    }
    return null;
  }

  private classify(error: unknown, signal: AbortSignal): DeliveryError {
    if (signal.aborted && error === signal.reason) return this.failures.aborted(signal, this.options.timeoutMs);
    if (error instanceof WebAPIRateLimitedError) return this.failures.rateLimited('rate limited', error.retryAfter * 1000);
    if (error instanceof WebAPIPlatformError) {
      const retryAfter = error.data.response_metadata?.retryAfter;
      return this.platformFailure(error.data.error, retryAfter === undefined ? undefined : retryAfter * 1000);
    }
    if (error instanceof WebAPIHTTPError) {
      return this.failures.fromStatus(error.statusCode, error.statusMessage, error.headers['retry-after']);
    }
    if (error instanceof WebAPIRequestError) {
      const cause = error.original;
      return cause.name === 'TimeoutError' || cause.name === 'AbortError'
        ? this.failures.aborted(signal, this.options.timeoutMs)
        : this.failures.network(cause);
    }
    return this.failures.unknown(error);
  }

  private platformFailure(code: string, retryAfterMs: number | undefined): DeliveryError {
    const detail = `Slack API error ${code}`;
    if (code === 'ratelimited') return this.failures.rateLimited(detail, retryAfterMs);
    if (AUTH_ERRORS.has(code)) return this.failures.error('auth', detail, false);
    if (NOT_FOUND_ERRORS.has(code)) return this.failures.error('not_found', detail, false);
    if (TRANSIENT_ERRORS.has(code)) return this.failures.error('server_error', detail, true);
    return this.failures.error('bad_request', detail, false);
  }
}

/** C…, G… (private, older workspaces) or D… (direct message) followed by upper-case letters and digits. */
export function isChannelId(channel: string): boolean {
  return /^[CGD][A-Z0-9]{6,}$/.test(channel);
}

/** Epoch ms as a Slack timestamp ("1732701600.000000"). */
function slackTs(ms: number): string {
  return (ms / 1000).toFixed(6);
}

/**
 * `work`, or a rejection as soon as `signal` aborts. The request in flight then runs on to the
 * client's timeout; a later step checks the signal before it starts.
 */
function untilAborted<T>(signal: AbortSignal, work: Promise<T>): Promise<T> {
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
