import {
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebAPIRequestError,
  WebClient,
} from '@slack/web-api';
import type { Logger } from '../../../observability/logger.js';
import { Failures } from '../../failures.js';
import { renderAlert, type AlertView } from '../render/alert-view.js';
import type { DeliveryError, DeliveryReceipt, Notification, Notifier } from '../../types.js';
import { slackClientLogger } from '../../slack/client-logger.js';
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
  /**
   * Shared by all sends: building a client binds every method of the Web API, a third of a send's
   * CPU (bench/RESULTS.md). It takes no per-call signal, so each call is bounded by the client's
   * timeout, and a send stops waiting when its caller's signal aborts (see `untilAborted`).
   */
  private readonly slack: WebClient;

  constructor(private readonly options: SlackNotifierOptions) {
    this.failures = new Failures('slack', options.receiver, [options.token]);
    this.logger = options.logger.child({ receiver: options.receiver, channel: 'slack' });
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

  async send(notification: Notification, signal: AbortSignal): Promise<DeliveryReceipt> {
    const view = renderAlert(notification.alert);
    try {
      return await untilAborted(
        signal,
        view.status === 'firing' ? this.sendFiring(notification, view, signal) : this.sendResolved(notification, view, signal),
      );
    } catch (error) {
      throw this.classify(error, signal);
    }
  }

  async close(): Promise<void> {}

  private async sendFiring(notification: Notification, view: AlertView, signal: AbortSignal): Promise<DeliveryReceipt> {
    // A retried job whose message went out before a crash: the stored ts says so; post nothing twice.
    const posted = await this.options.threads.get(notification);
    if (posted !== null) {
      this.logger.debug({ ts: posted.ts }, 'firing message already posted');
      return { id: posted.ts, action: 'posted' };
    }
    signal.throwIfAborted();
    // Saved even when the caller stopped waiting meanwhile: the retry then finds the message posted.
    const thread = await this.post(view);
    await this.options.threads.save(notification, thread);
    return { id: thread.ts, action: 'posted' };
  }

  private async sendResolved(notification: Notification, view: AlertView, signal: AbortSignal): Promise<DeliveryReceipt> {
    const thread = await this.options.threads.get(notification);
    signal.throwIfAborted();
    if (thread === null) {
      // The firing message was never posted here (or is long gone): say it resolved all the same.
      const posted = await this.post(view);
      await this.options.threads.save(notification, { ...posted, resolved: true });
      return { id: posted.ts, action: 'posted' };
    }
    if (!thread.resolved) {
      await this.slack.chat.update({ channel: thread.channel, ts: thread.ts, ...composeSlackMessage(view), ...NO_PARSING });
      signal.throwIfAborted();
      await this.slack.chat.postMessage({
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
  private async post(view: AlertView): Promise<SlackThread> {
    const message = { channel: this.options.channel, ...composeSlackMessage(view), ...NO_PARSING, ...NO_UNFURLS };
    const { channel, ts } = await this.slack.chat.postMessage(message);
    if (!channel || !ts) throw this.failures.error('invalid_response', 'chat.postMessage answered without channel or ts', false);
    return { channel, ts };
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
