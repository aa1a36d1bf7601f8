import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Maestro's shipped routing policy, with a short hold-down so a test sees the resolve. */
export function routingFile(holdMs = 1_500): string {
  const dir = mkdtempSync(join(tmpdir(), 'alertcenter-routes-'));
  const file = join(dir, 'routes.yaml');
  writeFileSync(
    file,
    `
receivers:
  - { name: oncall-pagerduty, pagerduty: {} }
  - { name: ops-slack, slack: { channel: "#maestro-alerts" } }
  - { name: ops-email, email: { to: [ops@maestro.example] } }
routes:
  - { name: pages, matchers: ['severity="critical"'], receivers: [oncall-pagerduty, ops-slack], resolve_hold: ${holdMs}ms }
  - { name: warnings, matchers: ['severity="warning"'], receivers: [ops-email, ops-slack], resolve_hold: ${holdMs}ms }
default_receivers: [ops-slack]
`,
  );
  return file;
}

let sequence = 0;

/**
 * One burn tier of one SLO as Alertmanager sends it, with the shipped rules' annotations; `service`
 * keeps each test's incident its own. Critical tiers are the 1h window, warnings the 6h one.
 */
export function tier(options: {
  service: string;
  severity: 'warning' | 'critical';
  slo?: string;
  status?: 'firing' | 'resolved';
  startsAt?: string;
  burn?: number;
}) {
  const {
    service,
    severity,
    slo = 'database-availability',
    status = 'firing',
    startsAt = '2026-12-07T12:00:00Z',
    burn = severity === 'critical' ? 15.2 : 6.3,
  } = options;
  const longWindow = severity === 'critical' ? '1h' : '6h';
  return {
    status,
    labels: { alertname: 'MaestroSLOErrorBudgetBurn', slo, service, severity, long_window: longWindow, short_window: longWindow === '1h' ? '5m' : '30m' },
    annotations: {
      summary: `${slo} is burning its error budget`,
      burn_rate: String(burn),
      burn_rate_short: String(burn * 1.5),
      burn_rate_long: String(burn),
      error_budget_remaining: '0.62',
      runbook_url: `https://runbooks.maestro.example/slo-${slo}`,
      dashboard_url: `https://grafana.maestro.example/d/maestro-slo?var-slo=${slo}`,
    },
    startsAt,
    endsAt: status === 'resolved' ? '2026-12-07T12:30:00Z' : '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus.maestro.example:9090/graph?g0.expr=slo%3Asli_error%3Aratio_rate1h',
    fingerprint: `${service}-${severity}-${startsAt}`.replace(/[^a-z0-9]/gi, '').slice(0, 40),
  };
}

/** A webhook of Alertmanager's carrying `alerts`, each one its own group (a fresh groupKey). */
export function webhook(...alerts: Array<ReturnType<typeof tier>>) {
  return {
    receiver: 'alertcenter',
    status: alerts.some((alert) => alert.status === 'firing') ? 'firing' : 'resolved',
    alerts,
    groupLabels: { alertname: 'MaestroSLOErrorBudgetBurn' },
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager.maestro.example:9093',
    version: '4',
    groupKey: `{}:{n="${sequence++}"}`,
    truncatedAlerts: 0,
  };
}
