import {
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebAPIRequestError,
  WebClient,
  type Logger as SlackLogger,
} from '@slack/web-api';
import type { Logger } from '../../observability/logger.js';
import { Failures } from '../failures.js';
import { renderAlert, type AlertView } from '../render/alert-view.js';
import type { DeliveryError, DeliveryReceipt, Notification, Notifier } from '../types.js';
import { slackClientLogger } from './client-logger.js';
import { composeResolvedReply, composeSlackMessage } from './message.js';
import type { SlackThread, SlackThreadStore } from './thread-store.js';

export interface SlackNotifierOptions {
  receiver: string;
  /** Channel name or id, as routes.yaml names it. */
  channel: string;
  token: string;
  /** SLACK_API_URL, e.g. https://slack.com/api/ */
  apiUrl: string;
  timeoutMs: number;
  threads: SlackThreadStore;
  logger: Logger;
}

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

/**
 * Posts a Block Kit message per firing episode, and on resolve updates that message in place
 * (`chat.update` with the ts kept in Redis) and replies in its thread.
 */
export class SlackNotifier implements Notifier {
  readonly kind = 'slack';
  readonly dryRun = false;
  private readonly failures: Failures;
  private readonly logger: Logger;
  private readonly clientLogger: SlackLogger;

  constructor(private readonly options: SlackNotifierOptions) {
    this.failures = new Failures('slack', options.receiver, [options.token]);
    this.logger = options.logger.child({ receiver: options.receiver, channel: 'slack' });
    this.clientLogger = slackClientLogger(this.logger);
  }

  async send(notification: Notification, signal: AbortSignal): Promise<DeliveryReceipt> {
    const slack = this.client(signal);
    const view = renderAlert(notification.alert);
    try {
      return view.status === 'firing'
        ? await this.sendFiring(slack, notification, view)
        : await this.sendResolved(slack, notification, view);
    } catch (error) {
      throw this.classify(error, signal);
    }
  }

  async close(): Promise<void> {}

  private async sendFiring(slack: WebClient, notification: Notification, view: AlertView): Promise<DeliveryReceipt> {
    // A retried job whose message went out before a crash: the stored ts says so; post nothing twice.
    const posted = await this.options.threads.get(notification);
    if (posted !== null) {
      this.logger.debug({ ts: posted.ts }, 'firing message already posted');
      return { id: posted.ts, action: 'posted' };
    }
    const thread = await this.post(slack, view);
    await this.options.threads.save(notification, thread);
    return { id: thread.ts, action: 'posted' };
  }

  private async sendResolved(slack: WebClient, notification: Notification, view: AlertView): Promise<DeliveryReceipt> {
    const thread = await this.options.threads.get(notification);
    if (thread === null) {
      // The firing message was never posted here (or is long gone): say it resolved all the same.
      const posted = await this.post(slack, view);
      await this.options.threads.save(notification, { ...posted, resolved: true });
      return { id: posted.ts, action: 'posted' };
    }
    if (!thread.resolved) {
      await slack.chat.update({ channel: thread.channel, ts: thread.ts, ...composeSlackMessage(view), ...NO_PARSING });
      await slack.chat.postMessage({
        channel: thread.channel,
        thread_ts: thread.ts,
        text: composeResolvedReply(view),
        ...NO_PARSING,
        ...NO_UNFURLS,
      });
      await this.options.threads.save(notification, { ...thread, resolved: true });
    }
    return { id: thread.ts, action: 'updated' };
  }

  /** A new message in the receiver's channel; where Slack put it. */
  private async post(slack: WebClient, view: AlertView): Promise<SlackThread> {
    const message = { channel: this.options.channel, ...composeSlackMessage(view), ...NO_PARSING, ...NO_UNFURLS };
    const { channel, ts } = await slack.chat.postMessage(message);
    if (!channel || !ts) throw this.failures.error('invalid_response', 'chat.postMessage answered without channel or ts', false);
    return { channel, ts };
  }

  /** One client per send: the Slack client takes no per-call signal, so its fetch hook adds the job's. */
  private client(signal: AbortSignal): WebClient {
    const { token, apiUrl, timeoutMs } = this.options;
    return new WebClient(token, {
      slackApiUrl: apiUrl,
      timeout: timeoutMs,
      // The queue retries with backoff; the client's default keeps trying for about 30 minutes.
      retryConfig: { retries: 0 },
      // Throw on 429 instead of sleeping through Retry-After, so the queue can pause the channel.
      rejectRateLimitedCalls: true,
      logger: this.clientLogger,
      fetch: (url, init) => fetch(url, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal }),
    });
  }

  private classify(error: unknown, signal: AbortSignal): DeliveryError {
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
      return signal.aborted || cause.name === 'TimeoutError' || cause.name === 'AbortError'
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
