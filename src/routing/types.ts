import type { ReceiverConfig } from '../domain/channels.js';

/** A validated routing file (routing/routes.yaml), after ${VAR} interpolation. */
export interface RoutingConfig {
  receivers: ReceiverConfig[];
  routes: RouteConfig[];
  defaultReceivers: string[];
  timeIntervals: TimeIntervalConfig[];
}

export interface RouteConfig {
  name: string;
  matchers: Matcher[];
  receivers: string[];
  continue: boolean;
  /** How long an identical notification stays deduplicated. */
  repeatIntervalMs: number;
  activeTimeIntervals: string[];
  muteTimeIntervals: string[];
  incident: IncidentSettings;
}

/** How a route's alerts make incidents (src/incidents). */
export interface IncidentSettings {
  /** Labels whose values make the incident key; null: alertname, slo and service for SLO alerts, else the alert's fingerprint. */
  incidentBy: string[] | null;
  /** A firing tier no copy confirmed for this long is marked stale (Alertmanager sends no resolve for a muted alert). */
  staleAfterMs: number;
  /** How long an incident whose tiers all cleared waits before it resolves; a tier firing again meanwhile continues it. */
  resolveHoldMs: number;
}

export type MatchType = '=' | '!=' | '=~' | '!~';

export interface Matcher {
  name: string;
  type: MatchType;
  value: string;
  /** Anchored ^(?:value)$ for =~ and !~. */
  regex?: RegExp;
}

/** Alertmanager's time_interval semantics: an instant matches when it matches any of `intervals`. */
export interface TimeIntervalConfig {
  name: string;
  intervals: TimeRange[];
}

export interface TimeRange {
  /** Minutes from midnight, [start, end). */
  times?: Array<{ startMinute: number; endMinute: number }>;
  /** 0 = Sunday ... 6 = Saturday. */
  weekdays?: Array<{ start: number; end: number }>;
  daysOfMonth?: Array<{ start: number; end: number }>;
  months?: Array<{ start: number; end: number }>;
  years?: Array<{ start: number; end: number }>;
  /** IANA time zone; UTC when absent. */
  location: string;
}

/** Why a matched route delivers to nobody at this instant. */
export type MuteReason = { kind: 'mute_time_interval'; interval: string } | { kind: 'outside_active_time_intervals'; intervals: string[] };

export interface RouteMatch {
  route: string;
  receivers: string[];
  repeatIntervalMs: number;
  /** Non-null when the route matched but a time interval mutes it: it delivers to nobody. */
  mutedBy: MuteReason | null;
  incident: IncidentSettings;
}

/** One notification to enqueue: the alert goes to `receiver` on behalf of `route`. */
export interface RoutedDelivery {
  route: string;
  receiver: string;
  repeatIntervalMs: number;
}

/** What `routeAlert` decides for one alert at one instant (Alertmanager's Route.Match over a flat list). */
export interface RoutingDecision {
  /** Matched routes in file order, muted ones included; the walk stops at the first one without `continue`. */
  matches: RouteMatch[];
  /** True when no route matched: the default receivers get the alert, under the route name "default". */
  usedDefault: boolean;
  /** One entry per (route, receiver) of every unmuted match, or per default receiver. Empty only when every match is muted. */
  deliveries: RoutedDelivery[];
  /** The incident settings of the first matched route (muted or not), or the defaults; `route` names it. */
  incident: IncidentSettings & { route: string };
}

/** For one route, whether it took the alert and why (`explainRoute`). */
export type RouteVerdict =
  | { route: string; outcome: 'matched'; receivers: string[] }
  | { route: string; outcome: 'muted'; mutedBy: MuteReason }
  /** `labelValue` is null when the alert lacks the label (matched as the empty string). */
  | { route: string; outcome: 'not_matched'; failedMatcher: string; labelValue: string | null }
  /** An earlier matching route without `continue` ended the walk. */
  | { route: string; outcome: 'not_reached'; stoppedAt: string };

export interface RoutingExplanation {
  verdicts: RouteVerdict[];
  decision: RoutingDecision;
}
