import { DEFAULT_INCIDENT_SETTINGS, DEFAULT_REPEAT_INTERVAL_MS, DEFAULT_ROUTE_NAME } from './config-schema.js';
import { formatMatcher, labelValue, matchesLabels } from './matchers.js';
import { isInTimeInterval } from './time-intervals.js';
import type { MuteReason, RouteConfig, RouteMatch, RouteVerdict, RoutingConfig, RoutingDecision, RoutingExplanation } from './types.js';

export { DEFAULT_REPEAT_INTERVAL_MS, DEFAULT_ROUTE_NAME };

type Labels = Readonly<Record<string, string>>;

/**
 * Where an alert goes at instant `at`, like Alertmanager's Route.Match over a flat list: routes are
 * tried in order and the first match ends the walk unless it has `continue`. A muted match delivers
 * to nobody but still ends the walk. No match at all: the default receivers.
 * `labels` are the alert's labels merged with its normalized fields (see routingLabels).
 */
export function routeAlert(config: RoutingConfig, labels: Labels, at: Date): RoutingDecision {
  return explainRoute(config, labels, at).decision;
}

/** `routeAlert`, plus for every route whether it took the alert and why. */
export function explainRoute(config: RoutingConfig, labels: Labels, at: Date): RoutingExplanation {
  const verdicts: RouteVerdict[] = [];
  const matches: RouteMatch[] = [];
  let stoppedAt: string | null = null;
  for (const route of config.routes) {
    if (stoppedAt !== null) {
      verdicts.push({ route: route.name, outcome: 'not_reached', stoppedAt });
      continue;
    }
    const verdict = judge(route, config, labels, at);
    verdicts.push(verdict);
    if (verdict.outcome === 'not_matched') continue;
    const mutedBy = verdict.outcome === 'muted' ? verdict.mutedBy : null;
    matches.push({ route: route.name, receivers: route.receivers, repeatIntervalMs: route.repeatIntervalMs, mutedBy, incident: route.incident });
    if (!route.continue) stoppedAt = route.name;
  }
  return { verdicts, decision: decide(config, matches) };
}

function judge(route: RouteConfig, config: RoutingConfig, labels: Labels, at: Date): RouteVerdict {
  const failed = route.matchers.find((matcher) => !matchesLabels(matcher, labels));
  if (failed) {
    return {
      route: route.name,
      outcome: 'not_matched',
      failedMatcher: formatMatcher(failed),
      labelValue: labelValue(labels, failed.name) ?? null,
    };
  }
  const mutedBy = muteReason(route, config, at);
  return mutedBy ? { route: route.name, outcome: 'muted', mutedBy } : { route: route.name, outcome: 'matched', receivers: route.receivers };
}

/** Alertmanager: muted while any mute interval holds, or while none of the active intervals (if any) holds. */
function muteReason(route: RouteConfig, config: RoutingConfig, at: Date): MuteReason | null {
  const holds = (name: string) => {
    const interval = config.timeIntervals.find((candidate) => candidate.name === name);
    // Validation guarantees every referenced interval exists.
    return interval !== undefined && isInTimeInterval(interval, at);
  };
  const muting = route.muteTimeIntervals.find(holds);
  if (muting !== undefined) return { kind: 'mute_time_interval', interval: muting };
  if (route.activeTimeIntervals.length > 0 && !route.activeTimeIntervals.some(holds)) {
    return { kind: 'outside_active_time_intervals', intervals: route.activeTimeIntervals };
  }
  return null;
}

function decide(config: RoutingConfig, matches: RouteMatch[]): RoutingDecision {
  if (matches.length === 0) {
    return {
      matches,
      usedDefault: true,
      incident: { route: DEFAULT_ROUTE_NAME, ...DEFAULT_INCIDENT_SETTINGS },
      deliveries: config.defaultReceivers.map((receiver) => ({
        route: DEFAULT_ROUTE_NAME,
        receiver,
        repeatIntervalMs: DEFAULT_REPEAT_INTERVAL_MS,
      })),
    };
  }
  const deliveries = matches
    .filter((match) => match.mutedBy === null)
    .flatMap((match) => match.receivers.map((receiver) => ({ route: match.route, receiver, repeatIntervalMs: match.repeatIntervalMs })));
  return { matches, usedDefault: false, deliveries, incident: { route: matches[0]!.route, ...matches[0]!.incident } };
}
