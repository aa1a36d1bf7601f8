/**
 * The bench's alerts: the burn-rate alerts of the three SLOs of routing/slos.yaml, across several
 * services, as Alertmanager groups them by the incident key (alertname, slo, service): every webhook
 * carries ALERTS_PER_WEBHOOK alerts of ONE group, with `instance` labels (and fingerprints) that no
 * other webhook has. One group is one incident of the router.
 *
 * The same alerts go to Alertmanager's `POST /api/v2/alerts` as postable alerts (labels,
 * annotations, startsAt, endsAt, generatorURL), ten per request, so both systems ingest the same.
 */
export const ALERTS_PER_WEBHOOK = 10;

export const SLOS = ['api-latency', 'database-availability', 'run-success'] as const;

export type BenchSeverity = 'warning' | 'critical';

export interface AlertGroup {
  slo: string;
  service: string;
}

/** Group `g` of `count`: the SLOs in turn, each on services `maestro-svc-01`, ...; 3 SLOs x 10 services = 30 incidents. */
export function groupsOf(count: number): AlertGroup[] {
  return Array.from({ length: count }, (_, g) => ({
    slo: SLOS[g % SLOS.length]!,
    service: `maestro-svc-${String(Math.floor(g / SLOS.length) + 1).padStart(2, '0')}`,
  }));
}

export const groupName = (group: AlertGroup): string => `${group.slo}/${group.service}`;

/** The `instance` label of alert `i` of the webhook with `seed`. */
export const instanceOf = (seed: string, i: number): string => `${seed}-${i}`;

/** A seed that fingerprints and labels can carry: lowercase letters and digits. */
export const seedOf = (prefix: string, n: number): string => `${prefix}${n.toString(36)}`;

const ALERTNAME = 'MaestroSLOErrorBudgetBurn';
const PERIOD: Record<string, string> = { 'api-latency': '30d', 'database-availability': '30d', 'run-success': '7d' };
const OBJECTIVE: Record<string, string> = { 'api-latency': '99.5', 'database-availability': '99.9', 'run-success': '99.0' };

/** The shipped tiers (routing/slos.yaml): the 6h warning, and the 1h critical that pages first. */
const TIER: Record<BenchSeverity, { long: string; short: string; threshold: string; burn: string; burnShort: string }> = {
  warning: { long: '6h', short: '30m', threshold: '6', burn: '6.4', burnShort: '7.9' },
  critical: { long: '1h', short: '5m', threshold: '14.4', burn: '15.2', burnShort: '21.7' },
};

/**
 * When the bench's alerts started firing: a minute before the bench loaded this module, as
 * Prometheus would have it. Prometheus posts a firing alert with `endsAt` a few evaluation intervals
 * ahead; Alertmanager's webhook carries the zero time for it.
 */
const STARTS_AT = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000).toISOString();
const POSTED_ENDS_AT = new Date(Date.parse(STARTS_AT) + 60 * 60_000).toISOString();
const WEBHOOK_ENDS_AT = '0001-01-01T00:00:00Z';

interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
}

function alerts(group: AlertGroup, severity: BenchSeverity, seed: string, endsAt: string): Alert[] {
  const tier = TIER[severity];
  return Array.from({ length: ALERTS_PER_WEBHOOK }, (_, i) => ({
    labels: {
      alertname: ALERTNAME,
      slo: group.slo,
      service: group.service,
      severity,
      long_window: tier.long,
      short_window: tier.short,
      burn_rate_threshold: tier.threshold,
      slo_objective: OBJECTIVE[group.slo]!,
      slo_period: PERIOD[group.slo]!,
      instance: instanceOf(seed, i),
    },
    annotations: {
      burn_rate: tier.burn,
      burn_rate_short: tier.burnShort,
      burn_rate_long: tier.burn,
      error_budget_remaining: '0.62',
      summary: `${group.slo} on ${group.service} burning its error budget`,
    },
    startsAt: STARTS_AT,
    endsAt,
    generatorURL: 'http://prometheus.maestro.example:9090/graph?g0.expr=x',
  }));
}

/** Alertmanager's webhook (version 4) for one group's alerts, as it would send them. */
export function webhookPayload(group: AlertGroup, severity: BenchSeverity, seed: string): object {
  const groupLabels = { alertname: ALERTNAME, slo: group.slo, service: group.service };
  return {
    receiver: 'alertcenter',
    status: 'firing',
    alerts: alerts(group, severity, seed, WEBHOOK_ENDS_AT).map((alert, i) => ({
      status: 'firing',
      ...alert,
      fingerprint: `${seed}${i.toString(16).padStart(15, '0')}`,
    })),
    groupLabels,
    commonLabels: { ...groupLabels, severity },
    commonAnnotations: {},
    externalURL: 'http://alertmanager.maestro.example:9093',
    version: '4',
    groupKey: `{}/{slo!=""}:{alertname="${ALERTNAME}", service="${group.service}", slo="${group.slo}"}`,
    truncatedAlerts: 0,
  };
}

/** The same alerts as Prometheus posts them to Alertmanager (`POST /api/v2/alerts`: an array of postable alerts). */
export function postableAlerts(group: AlertGroup, severity: BenchSeverity, seed: string): Alert[] {
  return alerts(group, severity, seed, POSTED_ENDS_AT);
}

const PLACEHOLDER = 'zzseedzz';

/** Pre-serialized halves around the seed, so a unique body costs a string join, not a JSON.stringify. */
function templates(build: (group: AlertGroup, severity: BenchSeverity, seed: string) => unknown, groups: readonly AlertGroup[]) {
  return groups.map((group) =>
    Object.fromEntries(
      (['warning', 'critical'] as const).map((severity) => [severity, JSON.stringify(build(group, severity, PLACEHOLDER)).split(PLACEHOLDER)]),
    ),
  ) as Array<Record<BenchSeverity, string[]>>;
}

export type BodyKind = 'webhook' | 'postable';

/**
 * Bodies for the ingest load: request `n` carries the alerts of group `n mod groups`, warning and
 * critical alternating per group, so both routes and escalations are exercised.
 */
export function ingestBodies(kind: BodyKind, groupCount: number): (prefix: string, n: number) => string {
  const halves = templates(kind === 'webhook' ? webhookPayload : postableAlerts, groupsOf(groupCount));
  return (prefix, n) => {
    const severity: BenchSeverity = Math.floor(n / groupCount) % 2 === 0 ? 'warning' : 'critical';
    return halves[n % groupCount]![severity].join(seedOf(prefix, n));
  };
}

/** A storm webhook's body. */
export function stormBody(groups: readonly AlertGroup[]): (group: number, severity: BenchSeverity, seed: string) => string {
  const halves = templates(webhookPayload, groups);
  return (group, severity, seed) => halves[group]![severity].join(seed);
}
