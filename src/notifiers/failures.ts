import type { ChannelKind } from '../domain/channels.js';
import { singleLine, truncate } from './render/text.js';
import { DeliveryError, type FailureReason } from './types.js';

/** The pause after a 429 that names no Retry-After (PagerDuty documents none). */
export const DEFAULT_RETRY_AFTER_MS = 30_000;

/** Shorter values would garble messages more than hiding them helps. */
const MIN_SECRET_LENGTH = 4;
const MAX_DETAIL_LENGTH = 500;

/**
 * Builds the DeliveryErrors of one receiver: each names the channel and receiver, and the
 * receiver's credentials are cut out wherever a peer's reply or a library message echoes them.
 */
export class Failures {
  private readonly secrets: string[];

  constructor(
    private readonly channel: ChannelKind,
    private readonly receiver: string,
    secrets: ReadonlyArray<string | undefined>,
  ) {
    this.secrets = secrets.filter((secret): secret is string => (secret ?? '').length >= MIN_SECRET_LENGTH);
  }

  error(reason: FailureReason, detail: string, retryable: boolean, retryAfterMs?: number): DeliveryError {
    const message = `${this.channel} receiver "${this.receiver}": ${truncate(singleLine(detail), MAX_DETAIL_LENGTH)}`;
    return new DeliveryError(reason, this.redact(message), retryable, retryAfterMs);
  }

  rateLimited(detail: string, retryAfterMs: number | undefined): DeliveryError {
    return this.error('rate_limited', detail, true, retryAfterMs ?? DEFAULT_RETRY_AFTER_MS);
  }

  /** An HTTP status the peer answered with; `retryAfter` is the raw Retry-After header. */
  fromStatus(status: number, detail: string, retryAfter?: string | null): DeliveryError {
    const what = `HTTP ${status}${detail ? ` ${detail}` : ''}`;
    if (status === 429) return this.rateLimited(what, parseRetryAfter(retryAfter));
    if (status === 401 || status === 403) return this.error('auth', what, false);
    if (status === 404) return this.error('not_found', what, false);
    if (status === 408) return this.error('timeout', what, true);
    if (status >= 500) return this.error('server_error', what, true);
    if (status >= 400) return this.error('bad_request', what, false);
    return this.error('invalid_response', what, false);
  }

  /** The request was cut short, by the caller's signal (shutdown, job cancelled) or by our deadline. */
  aborted(callerSignal: AbortSignal, timeoutMs: number): DeliveryError {
    return this.error('timeout', callerSignal.aborted ? 'cancelled by the caller' : `no answer within ${timeoutMs} ms`, true);
  }

  /** No usable reply: refused connection, DNS, TLS, reset. */
  network(cause: unknown): DeliveryError {
    return this.error('network', describeError(cause), true);
  }

  /** Anything not recognized is retried: the queue bounds the attempts and dead-letters the rest. */
  unknown(cause: unknown): DeliveryError {
    return cause instanceof DeliveryError ? cause : this.error('unknown', describeError(cause), true);
  }

  private redact(text: string): string {
    return this.secrets.reduce((result, secret) => result.split(secret).join('[redacted]'), text);
  }
}

/** Retry-After as delta-seconds or an HTTP date, in ms; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** An error's message with the code and message of its cause (fetch hides the socket error there). */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  const own = code ? `${error.message} (${code})` : error.message;
  return error.cause === undefined || error.cause === error ? own : `${own}: ${describeError(error.cause)}`;
}
