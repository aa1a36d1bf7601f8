import { readFileSync } from 'node:fs';

const FIXTURES = new URL('../fixtures/payloads/', import.meta.url);

/** A real Alertmanager 0.25 payload from test/fixtures/payloads/ (copied from shared/reference). */
export function alertmanagerPayload(name: 'critical-firing' | 'warning-firing' | 'group-two-alerts' | 'group-one-resolved'): any {
  return JSON.parse(readFileSync(new URL(`alertmanager-0.25/${name}.json`, FIXTURES), 'utf8'));
}

/**
 * A burn-rate webhook with `count` alerts of distinct fingerprints. Alerts that carry an SLO merge
 * into one incident per (alertname, slo, service); with `slo: null` the alerts carry none, so each
 * one is an incident of its own (what the load and fault tests count per alert).
 */
export function burnRatePayload(
  options: { count?: number; severity?: 'warning' | 'critical'; status?: 'firing' | 'resolved'; slo?: string | null; seed?: string } = {},
): any {
  const { count = 1, severity = 'warning', status = 'firing', slo = 'api-latency', seed = 'a' } = options;
  const sloLabel = slo === null ? {} : { slo };
  const alerts = Array.from({ length: count }, (_, i) => ({
    status,
    labels: {
      alertname: 'MaestroSLOErrorBudgetBurn',
      ...sloLabel,
      service: 'maestro-api',
      severity,
      long_window: '6h',
      short_window: '30m',
      burn_rate_threshold: severity === 'critical' ? '12' : '6',
      slo_objective: '99.5',
      slo_period: '30d',
      instance: `${seed}-${i}`,
    },
    annotations: { burn_rate: severity === 'critical' ? '13.1' : '6.4', summary: `${slo ?? 'maestro-api'} burning` },
    startsAt: '2026-11-27T18:00:00Z',
    endsAt: status === 'resolved' ? '2026-11-27T19:00:00Z' : '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus.maestro.example:9090/graph?g0.expr=x',
    fingerprint: `${seed}${i.toString(16).padStart(15, '0')}`,
  }));
  return {
    receiver: 'alertcenter',
    status,
    alerts,
    groupLabels: { alertname: 'MaestroSLOErrorBudgetBurn', ...sloLabel, severity },
    commonLabels: { alertname: 'MaestroSLOErrorBudgetBurn', ...sloLabel, severity },
    commonAnnotations: {},
    externalURL: 'http://alertmanager.maestro.example:9093',
    version: '4',
    groupKey: `{}:{alertname="MaestroSLOErrorBudgetBurn", severity="${severity}"${slo === null ? '' : `, slo="${slo}"`}}`,
    truncatedAlerts: 0,
  };
}
