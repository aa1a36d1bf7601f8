import { burnRatePayload } from '../test/support/payloads.js';

/**
 * Alertmanager groups a burn-rate storm; every webhook of the bench carries this many alerts. They
 * carry no SLO, so each alert is an incident of its own: one notification per alert and receiver.
 */
export const ALERTS_PER_WEBHOOK = 10;

export type BenchSeverity = 'warning' | 'critical';

/** Webhooks alternate warning and critical, so both routes (email + Slack, PagerDuty + Slack) are exercised. */
export const severityOf = (n: number): BenchSeverity => (n % 2 === 0 ? 'warning' : 'critical');

/** The `instance` label (shown in every rendered message) of alert `i` of the webhook with `seed`. */
export const instanceOf = (seed: string, i: number): string => `${seed}-${i}`;

/** A seed the payload helper can carry in fingerprints and labels: lowercase letters and digits. */
export const seedOf = (prefix: string, n: number): string => `${prefix}${n.toString(36)}`;

const PLACEHOLDER = '~seed~';

/** Pre-serialized halves around the seed, so a unique body costs a string join, not a JSON.stringify. */
const templates = Object.fromEntries(
  (['warning', 'critical'] as const).map((severity) => [
    severity,
    JSON.stringify(burnRatePayload({ slo: null, count: ALERTS_PER_WEBHOOK, severity, seed: PLACEHOLDER })).split(PLACEHOLDER),
  ]),
) as Record<BenchSeverity, string[]>;

/** The JSON body of webhook `n`: its alerts have fingerprints and instances no other webhook has. */
export function webhookBody(prefix: string, n: number): string {
  return templates[severityOf(n)].join(seedOf(prefix, n));
}
