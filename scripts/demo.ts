/**
 * npm run demo: plays one realistic incident of the database-availability SLO to a running router,
 * as Alertmanager would send it: the 6h warning tier fires, the 1h critical tier fires (escalation),
 * the critical tier clears (de-escalation), then the warning clears (the resolve, after the route's
 * resolve_hold). With no channel credentials the router's log notifiers print every message.
 *
 *   ROUTER_URL (default http://127.0.0.1:8080)   WEBHOOK_TOKEN (one of the router's WEBHOOK_TOKENS, if set)
 *   ADMIN_TOKEN (the router's, if set: to print the incident's timeline)   DEMO_STEP (default 4s between steps)
 */
import { createHash } from 'node:crypto';
import { loadSloCatalog, type SloDefinition } from '../src/alerts/slo-catalog.js';
import { parseDuration } from '../src/config/duration.js';

const routerUrl = process.env.ROUTER_URL ?? 'http://127.0.0.1:8080';
const token = process.env.WEBHOOK_TOKEN;
const adminToken = process.env.ADMIN_TOKEN;
const stepMs = parseDuration(process.env.DEMO_STEP ?? '4s') ?? 4_000;
const catalog = loadSloCatalog(process.env.SLO_CATALOG_FILE ?? 'routing/slos.yaml');
const startsAt = new Date(Date.now() - 7 * 60_000).toISOString();

function alertFor(slo: SloDefinition, severity: 'warning' | 'critical', longWindow: string, status: 'firing' | 'resolved') {
  const tier = catalog.burnRateTiers.find((t) => t.severity === severity && t.long_window === longWindow)!;
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
      // What the shipped rules annotate (deploy/prometheus): the burn now, over the long window, the budget left.
      burn_rate_short: (Number(observed) * 1.6).toFixed(1),
      burn_rate_long: observed,
      error_budget_remaining: severity === 'critical' ? '0.58' : '0.64',
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

const slo = catalog.slos.find((candidate) => candidate.name === 'database-availability') ?? catalog.slos[0]!;
const warning = (status: 'firing' | 'resolved') => alertFor(slo, 'warning', '6h', status);
const critical = (status: 'firing' | 'resolved') => alertFor(slo, 'critical', '1h', status);
const pause = () => new Promise((resolve) => setTimeout(resolve, stepMs));

await send(`1. ${slo.name}: the 6h warning tier fires (an incident opens: email and Slack)`, [warning('firing')]);
await pause();
await send('2. the 1h critical tier fires too (escalation: PagerDuty pages, the Slack message turns critical, a mail reply)', [
  warning('firing'),
  critical('firing'),
]);
await pause();
await send('3. the critical tier clears (de-escalation noted on every channel, no second page)', [warning('firing'), critical('resolved')]);
await pause();
await send("4. the warning clears (the incident resolves after the route's resolve_hold, 5m in routing/routes.yaml)", [warning('resolved')]);

const headers = adminToken ? { authorization: `Bearer ${adminToken}` } : undefined;
const listed = await fetch(`${routerUrl}/api/v1/incidents?slo=${slo.name}&limit=1`, { headers }).then((res) => (res.ok ? res.json() : null));
const incident = (listed as { incidents?: Array<{ id: string }> } | null)?.incidents?.[0];
if (incident) {
  const detail = (await fetch(`${routerUrl}/api/v1/incidents/${incident.id}`, { headers }).then((res) => res.json())) as {
    timeline: Array<{ at: string; kind: string; receiver?: string; decision?: string }>;
  };
  console.log(`\nIncident ${incident.id}, its timeline so far:`);
  for (const event of detail.timeline) {
    console.log(`  ${event.at.slice(11, 19)} UTC  ${event.kind}${event.receiver ? ` ${event.receiver} (${event.decision})` : ''}`);
  }
}
console.log(`
Where to look:
  ${routerUrl}/ in a browser: the AlertCenter page (sign in with ADMIN_TOKEN);
  the router's log (npm start's terminal): each message the log notifiers would have sent;
  curl -s ${routerUrl}/api/v1/incidents            every incident, open first
  curl -s ${routerUrl}/api/v1/incidents/<id>       one incident: tiers, timeline, what each receiver was told`);
