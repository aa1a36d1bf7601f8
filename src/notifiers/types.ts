import type { NormalizedAlert } from '../alerts/types.js';

export type ChannelKind = 'slack' | 'email' | 'pagerduty';

/** What one delivery job carries: one alert for one receiver. */
export interface Notification {
  receiver: string;
  route: string;
  alert: NormalizedAlert;
  /** Epoch ms at which the webhook carrying this alert was accepted (202). */
  acceptedAt: number;
}

export interface DeliveryReceipt {
  /** Channel-side id: Slack ts, SMTP Message-ID, PagerDuty dedup_key. */
  id: string;
  /** What the notifier did, for logs and the delivery state: "posted", "updated", "sent", "triggered", "resolved", "logged". */
  action: string;
}

/** One small module per channel; built from validated config. Never retries on its own: the queue does. */
export interface Notifier {
  readonly kind: ChannelKind;
  /** True when this receiver only logs what it would send (no credentials configured). */
  readonly dryRun: boolean;
  send(notification: Notification, signal: AbortSignal): Promise<DeliveryReceipt>;
  close(): Promise<void>;
}

/**
 * Why a delivery failed; becomes a metric label and a log field.
 * Alertmanager's notify.ErrorWithReason in spirit.
 */
export type FailureReason =
  | 'rate_limited'
  | 'server_error'
  | 'timeout'
  | 'network'
  | 'auth'
  | 'bad_request'
  | 'not_found'
  | 'invalid_response'
  | 'unknown';

export class DeliveryError extends Error {
  constructor(
    readonly reason: FailureReason,
    message: string,
    /** Retryable failures go back to the queue with backoff; the others are dead-lettered at once. */
    readonly retryable: boolean,
    /** Set on rate limits: pause the channel's queue this long without using up an attempt. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}
