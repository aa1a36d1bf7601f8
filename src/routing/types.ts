import type { ChannelKind } from '../notifiers/types.js';

/** A validated routing file (routing/routes.yaml), after ${VAR} interpolation. */
export interface RoutingConfig {
  receivers: ReceiverConfig[];
  routes: RouteConfig[];
  defaultReceivers: string[];
  timeIntervals: TimeIntervalConfig[];
}

export type ReceiverConfig =
  | { name: string; kind: 'slack'; slack: { channel: string } }
  | { name: string; kind: 'email'; email: { to: string[]; from?: string } }
  | { name: string; kind: 'pagerduty'; pagerduty: { routingKey?: string } };

export type { ChannelKind };

export interface RouteConfig {
  name: string;
  matchers: Matcher[];
  receivers: string[];
  continue: boolean;
  /** How long an identical notification stays deduplicated. */
  repeatIntervalMs: number;
  activeTimeIntervals: string[];
  muteTimeIntervals: string[];
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
