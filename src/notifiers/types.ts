import type { ChannelKind } from '../domain/channels.js';
import type { ChannelReceipt, Incident, SyncDecision, Told } from '../incidents/types.js';

/**
 * Why a delivery failed; becomes a metric label and a log field.
 * Alertmanager's notify.ErrorWithReason in spirit.
 */
export type FailureReason = 'rate_limited' | 'server_error' | 'timeout' | 'network' | 'auth' | 'bad_request' | 'not_found' | 'invalid_response' | 'unknown';

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

/** What a sync hands a channel: the incident as it stands now, and what this receiver was told before. */
export interface SyncContext {
  receiver: string;
  incident: Incident;
  /** The notification log entry of (incident, receiver); null before the first notification. */
  told: Told | null;
  /** Why the sync sends: never `up_to_date` or `not_routed` (nothing is sent then). */
  decision: Exclude<SyncDecision, 'up_to_date' | 'not_routed'>;
  /**
   * An earlier attempt of this notification started and its outcome is unknown (a crash, a
   * timeout): it may have reached the channel. Slack looks for the message before posting again.
   */
  uncertain: boolean;
  /** Epoch ms the sync runs at: "4 min ago" is computed from it. */
  now: number;
}

export interface SyncResult {
  /** What the notifier did, for logs and the timeline: "posted", "updated", "replied", "sent", "triggered", "resolved", "logged". */
  action: string;
  /** What the channel answered; merged into the notification log's receipt. */
  receipt: ChannelReceipt;
}

/**
 * One small module per channel behind one interface (Alertmanager's notify.Notifier): it says what
 * failed and whether a retry may help (DeliveryError); the queue retries.
 */
export interface IncidentNotifier {
  readonly kind: ChannelKind;
  /** True when this receiver only logs what it would send (no credentials configured). */
  readonly dryRun: boolean;
  /** The decisions this channel acts on; for the others it is up to date (email ignores figures, PagerDuty reminders). */
  readonly interests: ReadonlySet<SyncDecision>;
  /** Least time between two updates of one incident on this channel (Slack rate-limits chat.update); 0 for none. */
  readonly minUpdateIntervalMs: number;
  notify(context: SyncContext, signal: AbortSignal): Promise<SyncResult>;
  close(): Promise<void>;
}
