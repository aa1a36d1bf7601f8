import type { AlertStatus, Severity } from '../alerts/types.js';

/**
 * An incident is what on-call works on: the burn tiers of one SLO (by default one incident per
 * alertname, slo and service), or one alert that carries no SLO. Its state lives in Redis and is the
 * single source of truth; every channel converges on it (see src/sync).
 *
 * - `open`: at least one tier fires;
 * - `resolving`: every tier cleared less than `resolveHoldMs` ago; a tier that fires again continues
 *   the incident ("flapped"), no new page;
 * - `resolved`: final. A tier that fires after that opens a new incident.
 */
export type IncidentState = 'open' | 'resolving' | 'resolved';

/** The figures of one tier as its newest alert copy gave them; null where unknown. */
export interface TierFigures {
  /** The burn rate the alert's `$value` carried: the threshold side of the rule. */
  burnRate: number | null;
  /** Burn now, over the short window. */
  burnRateShort: number | null;
  /** Burn over the long window. */
  burnRateLong: number | null;
  /** The rule's threshold. */
  burnRateThreshold: number | null;
  /** Fraction of the SLO period's error budget left (may be negative). */
  budgetRemaining: number | null;
  /** Fraction of the whole budget burnt within the long window at `burnRate`. */
  budgetConsumed: number | null;
  /** At the burn now, with the budget remaining (or of a full budget when `figuresSource` is 'threshold'). */
  timeToExhaustionSeconds: number | null;
  /** 'threshold': the alert carried no observed figures; they are the rule's, "of a full budget". */
  figuresSource: 'observed' | 'threshold';
  longWindow: string | null;
  shortWindow: string | null;
}

/** One burn tier (alertname, severity, long window): the alerts of that tier, across instances. */
export interface Tier {
  id: string;
  alertname: string;
  severity: Severity;
  /** True while any of its alerts fires. */
  firing: boolean;
  /** How many of its alerts fire (a storm of instances makes one tier). */
  firingAlerts: number;
  /** No copy confirmed it firing for longer than the route's `stale_after`: shown, not resolved. */
  stale: boolean;
  /** ISO: when it last started firing; when it last cleared. */
  firingSince: string | null;
  clearedAt: string | null;
  /** Epoch ms at which the router last received a copy saying that it fires. */
  lastSeenAt: number;
  /** Epoch ms of the webhook the figures come from: a later webhook's figures win. */
  figuresAt: number;
  figures: TierFigures;
  /** From the newest alert of the tier. */
  summary: string | null;
  description: string | null;
  labels: Record<string, string>;
}

/**
 * What the incident knows of one alert: enough to ignore a repeat or an older copy. Kept beside the
 * incident's document (a hash by fingerprint), not in it: a storm of instances must not make every
 * update read and write thousands of them.
 */
export interface AlertMark {
  tier: string;
  status: AlertStatus;
  /** 2 x startsAt (ms) + 1 when resolved: a later start is newer, and resolved beats firing at the same start. */
  version: number;
  startsAt: string;
}

/** A receiver the incident routes to now, or was routed to before. */
export interface IncidentReceiver {
  route: string;
  repeatIntervalMs: number;
  /** Whether the incident's labels and current severity route to it now. */
  routedNow: boolean;
}

export interface IncidentLinks {
  runbookUrl: string | null;
  dashboardUrl: string | null;
  generatorUrl: string | null;
  /** The sending Alertmanager's externalURL. */
  alertmanagerUrl: string | null;
}

/** Route settings in force for the incident, from the first route its alerts match. */
export interface IncidentPolicy {
  route: string;
  staleAfterMs: number;
  resolveHoldMs: number;
}

export interface Incident {
  id: string;
  /** Hash of the incident key; the same key maps to one incident at a time. */
  key: string;
  /** The labels the key is made of (alertname, slo, service, or the alert's fingerprint). */
  keyLabels: Record<string, string>;
  /** Incremented on every change: what a channel was told is compared with it. */
  rev: number;
  state: IncidentState;
  title: string;
  alertname: string;
  slo: string | null;
  service: string | null;
  objective: number | null;
  period: string | null;
  periodSeconds: number | null;
  sloDescription: string | null;
  /** Highest severity of the firing tiers (of the last firing ones while resolving or resolved). */
  severity: Severity;
  peakSeverity: Severity;
  /** ISO times. */
  openedAt: string;
  changedAt: string;
  resolvingSince: string | null;
  /** Epoch ms at which a `resolving` incident resolves. */
  holdUntil: number | null;
  resolvedAt: string | null;
  peakBurnRate: number | null;
  budgetRemainingAtOpen: number | null;
  budgetRemainingAtResolve: number | null;
  tiers: Record<string, Tier>;
  receivers: Record<string, IncidentReceiver>;
  policy: IncidentPolicy;
  links: IncidentLinks;
  /** Who acknowledged it, and where; null when nobody has (or it was unacknowledged since). */
  acknowledged: Acknowledgement | null;
  /** The Alertmanager silences that mute its alerts now; null when none. */
  silenced: IncidentSilence | null;
  /**
   * PagerDuty resolved its incident while ours still burns (a webhook said so): PagerDuty holds
   * nothing open for it. A later escalation pages again. Absent on incidents stored before it existed.
   */
  pagerdutyResolved?: { at: string; by: string } | null;
  /** ISO: the last escalation (what tells a later escalation from one before PagerDuty's resolve). */
  lastEscalatedAt?: string | null;
}

/** Where an on-call action came from. */
export type ActionSource = 'slack' | 'pagerduty' | 'api';

/** Who acted: a Slack user, a PagerDuty agent, or the actor an API call names. */
export interface Actor {
  /** Display name: the Slack user name, the PagerDuty agent's summary, the API caller's `by`. */
  name: string;
  /** The user's id in its system (Slack U…, PagerDuty P…); null from the API. */
  id: string | null;
  via: ActionSource;
}

export interface Acknowledgement {
  /** Display name of who acknowledged. */
  by: string;
  userId: string | null;
  via: ActionSource;
  /** ISO. */
  at: string;
}

/** One silence of one Alertmanager: unsilence expires it there. */
export interface SilenceRef {
  /** The Alertmanager's URL as configured, without credentials. */
  alertmanager: string;
  id: string;
}

export interface IncidentSilence {
  /** ISO: when the silences end. */
  until: string;
  /** ISO: when they were created. */
  at: string;
  by: string;
  userId: string | null;
  via: ActionSource;
  comment: string;
  /** One per Alertmanager of ALERTMANAGER_URLS. */
  silences: SilenceRef[];
  /** The matchers, as Alertmanager's filter syntax (`alertname="X"`): what the silences select. */
  matchers: string[];
}

/** One entry of an incident's timeline, newest last. */
export type TimelineEvent = { at: string } & (
  | { kind: 'opened'; severity: Severity }
  | { kind: 'tier_fired'; tier: string; severity: Severity }
  | { kind: 'tier_cleared'; tier: string; severity: Severity }
  | { kind: 'tier_stale'; tier: string; severity: Severity }
  | { kind: 'escalated'; from: Severity; to: Severity }
  | { kind: 'de_escalated'; from: Severity; to: Severity }
  | { kind: 'flapped'; tier: string }
  | { kind: 'resolving'; holdUntil: string }
  | { kind: 'resolved'; durationMs: number }
  | { kind: 'notification_sent'; receiver: string; channel: string; decision: SyncDecision; action: string; receipt: ChannelReceipt }
  | { kind: 'notification_failed'; receiver: string; channel: string; decision: SyncDecision; reason: string; error: string; attempt: number }
  | { kind: 'notification_dead_lettered'; receiver: string; channel: string; decision: SyncDecision; reason: string; error: string }
  /** After a failed attempt, a later one found nothing left to send (the incident cleared before the channel could be told). */
  | { kind: 'notification_settled'; receiver: string; channel: string; decision: SyncDecision }
  | { kind: 'acknowledged'; by: string; userId: string | null; via: ActionSource }
  | { kind: 'unacknowledged'; by: string; userId: string | null; via: ActionSource }
  | { kind: 'silenced'; by: string; userId: string | null; via: ActionSource; until: string; comment: string; silences: SilenceRef[] }
  /** `expired`: the silences ended on their own; otherwise someone unsilenced it. */
  | { kind: 'unsilenced'; by: string; userId: string | null; via: ActionSource; expired: boolean }
  /** A silence no Alertmanager (or not every one) could take: nothing was kept. */
  | { kind: 'silence_failed'; by: string; userId: string | null; via: ActionSource; errors: string[] }
  | { kind: 'pagerduty_reassigned'; by: string; userId: string | null; to: string[] }
  /** `whileBurning`: our incident still fires; a later escalation pages again. */
  | { kind: 'pagerduty_resolved'; by: string; userId: string | null; whileBurning: boolean }
  /** The incident's alerts as Alertmanager lists them (while silenced, or as the silence ends): those listed no more resolved. */
  | { kind: 'alertmanager_checked'; resolved: string[]; firing: number }
);

/**
 * Why a sync sends what it sends, or nothing (Alertmanager's dedup stage names its reasons too):
 * - `first_notification`: the receiver was never told, and the incident routes to it now;
 * - `escalated` / `de_escalated`: the incident's severity rose / fell since the receiver was told;
 * - `figures_changed`: burn, budget, tiers or state changed (channels that show figures);
 * - `resolved`: the incident resolved since the receiver was told;
 * - `reminder_due`: still firing a repeat interval after the receiver was last told;
 * - `acknowledged` / `unacknowledged`: someone acknowledged it (Slack, PagerDuty, the API), or undid that;
 * - `status_changed`: silenced, unsilenced, or resolved in PagerDuty (channels that show it);
 * - `up_to_date`: nothing to say; `not_routed`: never told, and it does not route there now.
 */
export type SyncDecision =
  | 'first_notification'
  | 'escalated'
  | 'de_escalated'
  | 'figures_changed'
  | 'resolved'
  | 'reminder_due'
  | 'acknowledged'
  | 'unacknowledged'
  | 'status_changed'
  | 'up_to_date'
  | 'not_routed';

/** What the channel answered: enough to update, thread under or resolve what it was sent. */
export interface ChannelReceipt {
  /** Slack: the message's channel id and ts. */
  slack?: { channel: string; ts: string };
  /** Email: the thread's first Message-ID, and the last one sent. */
  email?: { threadId: string; lastMessageId: string };
  /** PagerDuty: the incident's dedup_key. */
  pagerduty?: { dedupKey: string };
  /** Dry run (log notifier). */
  log?: { id: string };
}

/**
 * The notification log of one (incident, receiver): what the channel was last told
 * (Alertmanager's nflog entry). The sync compares it with the incident to decide what to send.
 */
export interface Told {
  /** Incident rev the channel was last told about. */
  rev: number;
  state: IncidentState;
  severity: Severity;
  /** What the channel shows of the figures, as a comparable string (see `figuresDigest`). */
  figures: string;
  acknowledged: boolean;
  /** What the channel shows of silences and PagerDuty's resolve (see `statusDigest`); absent in older logs. */
  status?: string;
  /** Epoch ms of the first and the last notification sent; of the last reminder. */
  firstAt: number;
  lastAt: number;
  receipt: ChannelReceipt;
  /** Notifications sent to this receiver about this incident. */
  sent: number;
}
