/**
 * npm run demo: sends realistic burn-rate webhooks for the three Maestro SLOs (warning, critical,
 * then resolved) to a running router, the way Alertmanager would. With no channel credentials the
 * router's log notifiers print every message it would have sent.
 *
 *   ROUTER_URL (default http://127.0.0.1:8080)   WEBHOOK_TOKEN (one of the router's WEBHOOK_TOKENS, if set)
 */
import { createHash } from 'node:crypto';
import { loadSloCatalog, type SloDefinition } from '../src/alerts/slo-catalog.js';
import { parseDuration } from '../src/config/duration.js';

const routerUrl = process.env.ROUTER_URL ?? 'http://127.0.0.1:8080';
const token = process.env.WEBHOOK_TOKEN;
const catalog = loadSloCatalog(process.env.SLO_CATALOG_FILE ?? 'routing/slos.yaml');
const startsAt = new Date(Date.now() - 7 * 60_000).toISOString();

function alertFor(slo: SloDefinition, severity: 'warning' | 'critical', status: 'firing' | 'resolved') {
  const tier = catalog.burnRateTiers.find((t) => t.severity === severity && t.long_window === '6h')!;
  const threshold = (tier.budget_consumed * parseDuration(slo.period)!) / parseDuration(tier.long_window)!;
  const observed = (threshold * 1.1).toFixed(1);
  const labels = {
    alertname: 'MaestroSLOErrorBudgetBurn',
    slo: slo.name,
    service: slo.service,
    severity,
    long_window: tier.long_window,
    short_window: tier.short_window,
    burn_rate_threshold: String(Number(threshold.toFixed(2))),
    slo_objective: String(slo.objective),
    slo_period: slo.period,
  };
  return {
    status,
    labels,
    annotations: {
      burn_rate: observed,
      summary: `${slo.name} SLO: error budget burning at ${observed}x (${slo.description})`,
      runbook_url: slo.runbook_url ?? '',
      dashboard_url: slo.dashboard_url ?? '',
    },
    startsAt,
    endsAt: status === 'resolved' ? new Date().toISOString() : '0001-01-01T00:00:00Z',
    generatorURL: `http://prometheus.maestro.example:9090/graph?g0.expr=slo%3Asli_error%3Aratio_rate${tier.long_window}`,
    fingerprint: createHash('sha256').update(JSON.stringify(labels)).digest('hex').slice(0, 16),
  };
}

async function send(title: string, alerts: ReturnType<typeof alertFor>[]) {
  const first = alerts[0]!;
  const payload = {
    receiver: 'alertcenter',
    status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    alerts,
    groupLabels: { alertname: first.labels.alertname, severity: first.labels.severity },
    commonLabels: { alertname: first.labels.alertname, severity: first.labels.severity },
    commonAnnotations: {},
    externalURL: 'http://alertmanager.maestro.example:9093',
    version: '4',
    groupKey: `{}:{alertname="${first.labels.alertname}", severity="${first.labels.severity}"}`,
    truncatedAlerts: 0,
  };
  const res = await fetch(`${routerUrl}/api/v1/webhooks/alertmanager`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(payload),
  }).catch((error: Error) => {
    console.error(`demo: cannot reach the router at ${routerUrl} (${error.message}); start it with npm start`);
    process.exit(1);
  });
  console.log(`${title}: HTTP ${res.status} ${await res.text()}`);
  if (!res.ok) process.exit(1);
}

await send('warning burn for all three SLOs (to email and Slack)', catalog.slos.map((slo) => alertFor(slo, 'warning', 'firing')));
await send('critical burn for all three SLOs (to PagerDuty)', catalog.slos.map((slo) => alertFor(slo, 'critical', 'firing')));
await new Promise((resolve) => setTimeout(resolve, 1_000));
await send('critical burn resolved (PagerDuty resolve)', catalog.slos.map((slo) => alertFor(slo, 'critical', 'resolved')));
console.log('demo: sent; the router log shows each notification, and GET /api/v1/alerts their state');
