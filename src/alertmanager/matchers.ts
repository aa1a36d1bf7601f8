import type { Incident } from '../incidents/types.js';

/** A matcher of Alertmanager's API v2 (`matchers` of a silence). */
export interface Matcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual: boolean;
}

/**
 * The matchers that select an incident's alerts, and nothing else: its incident key's labels (an
 * empty value matches alerts without the label, as in Alertmanager) and its alertname. An incident
 * keyed by one alert's fingerprint has no labels of its own to select by: its alert's labels then.
 */
export function incidentMatchers(incident: Incident): Matcher[] {
  const labels: Record<string, string> = { ...incident.keyLabels };
  if ('fingerprint' in labels && Object.keys(labels).length === 1) {
    delete labels.fingerprint;
    const tier = Object.values(incident.tiers)[0];
    Object.assign(labels, tier?.labels ?? {});
  }
  labels.alertname = incident.alertname;
  return Object.keys(labels)
    .sort()
    .map((name) => ({ name, value: labels[name]!, isRegex: false, isEqual: true }));
}

/** `name="value"`, as `GET /api/v2/alerts?filter=` and amtool take it. */
export function matcherText(matcher: Matcher): string {
  const value = matcher.value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  return `${matcher.name}${matcher.isEqual ? '' : '!'}${matcher.isRegex ? '=~' : '='}"${value}"`;
}
