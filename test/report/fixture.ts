/**
 * The weekly report's test world: a real Prometheus holding five weeks of simulated Maestro SLI
 * counters with known events (src/simulator/maestro.ts, the playground's simulator), the shipped
 * recording rules backfilled over them, and incidents made by the router's own incident pipeline
 * at the times the events happened.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalizePayload } from '../../src/alerts/normalize.js';
import { parseWebhookPayload } from '../../src/alerts/schema.js';
import { loadSloCatalog, type SloCatalog } from '../../src/alerts/slo-catalog.js';
import { acknowledgeIncident } from '../../src/incidents/actions.js';
import { nextTickAt } from '../../src/incidents/apply.js';
import type { IncidentStore } from '../../src/incidents/store.js';
import type { Incident } from '../../src/incidents/types.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { batchByIncident, routeAlerts, tickDueIncidents, updateIncident } from '../../src/pipeline/incidents.js';
import { type IsoWeek, lastCompleteWeek, weeksBefore } from '../../src/report/week.js';
import { loadRoutingConfig } from '../../src/routing/config.js';
import { DEFAULT_SCENARIO, errorRatioAt, MaestroSimulator, type Scenario, SIM_SLOS, type SimSlo, trafficAt } from '../../src/simulator/maestro.js';
import { backfillRecords, createBlocksFromOpenMetrics, type PrometheusProcess, startPrometheus } from '../../src/simulator/prometheus-process.js';

export const TIME_ZONE = 'Europe/Paris';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const catalog: SloCatalog = loadSloCatalog('routing/slos.yaml');

/** The reviewed week (the last complete one in Paris) and the scenario's known events around it. */
export function makeScenario(now: number): { week: IsoWeek; dataStart: number; scenario: Scenario } {
  const week = lastCompleteWeek(now, TIME_ZONE);
  const previous = weeksBefore(week, 1);
  const at = (base: IsoWeek, day: number, hour: number) => base.start + day * DAY + hour * HOUR;
  const scenario: Scenario = structuredClone(DEFAULT_SCENARIO);
  scenario.events = [
    // A 2-hour database outage on the Wednesday, 14:00-16:00 Paris: 14.4% of requests fail (about 40% of the 30d budget).
    { slo: 'database-availability', from: at(week, 2, 14), to: at(week, 2, 16), errorRatio: 0.144, label: 'database outage' },
    // A smaller database blip on the Friday morning.
    { slo: 'database-availability', from: at(week, 4, 9), to: at(week, 4, 10), errorRatio: 0.02, label: 'database blip' },
    // A latency regression over the weekend: 1.2% of API requests over 200 ms, Saturday 00:00 to Monday 00:00.
    { slo: 'api-latency', from: at(week, 5, 0), to: week.end, errorRatio: 0.012, label: 'latency regression' },
    // A spike of failed runs on the Tuesday (6 h at 25%: the 7d budget overspent), and a smaller one the week before.
    { slo: 'run-success', from: at(week, 1, 10), to: at(week, 1, 16), errorRatio: 0.25, label: 'failed runs' },
    { slo: 'run-success', from: at(previous, 3, 9), to: at(previous, 3, 10), errorRatio: 0.1, label: 'failed runs (week before)' },
  ];
  return { week, dataStart: week.end - 35 * DAY, scenario };
}

/**
 * Expected figures, computed here from the scenario minute by minute (the simulator's step), apart
 * from the report's code: events and bad events of an SLO over [from, to).
 */
export function countEvents(scenario: Scenario, slo: SimSlo, from: number, to: number): { events: number; bad: number } {
  let events = 0;
  let bad = 0;
  for (let t = from; t < to; t += 60_000) {
    const n = trafficAt(scenario, slo, t) * 60;
    events += n;
    bad += n * errorRatioAt(scenario, slo, t);
  }
  return { events, bad };
}

export interface FilledPrometheus {
  prometheus: PrometheusProcess;
  dir: string;
  close(): Promise<void>;
}

/** Prometheus with the scenario's history, the shipped rules' records backfilled hourly over it. */
export async function fillPrometheus(scenario: Scenario, dataStart: number, dataEnd: number): Promise<FilledPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'report-prometheus-'));
  const dataDir = join(dir, 'data');
  const simulator = new MaestroSimulator(scenario, dataStart);
  await createBlocksFromOpenMetrics(simulator.toOpenMetrics(dataEnd), dir, dataDir);
  let prometheus = await startPrometheus({ dir });
  const rules = readFileSync('deploy/prometheus/maestro-slo-rules.yaml', 'utf8');
  const range = { start: dataStart + HOUR, end: dataEnd, stepSeconds: 3600 };
  // The SLI error ratios first; the budget left reads the period's ratio, so it comes second.
  await backfillRecords(prometheus.url, rules, (record) => record.startsWith('slo:sli_error:ratio_rate'), range, dir, dataDir);
  await prometheus.stop();
  prometheus = await startPrometheus({ dir, port: prometheus.port });
  await backfillRecords(prometheus.url, rules, (record) => record === 'slo:error_budget_remaining:ratio', range, dir, dataDir);
  await prometheus.stop();
  prometheus = await startPrometheus({ dir, port: prometheus.port });
  return {
    prometheus,
    dir,
    close: async () => {
      await prometheus.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Drives the router's incident pipeline (normalize, update incident, tick) at past times. */
export class IncidentDriver {
  private readonly routing = loadRoutingConfig('routing/routes.yaml', { EMAIL_TO: 'ops@maestro.example' });
  private readonly metrics = createMetrics();
  private seq = 0;

  constructor(private readonly store: IncidentStore) {}

  /** One Alertmanager webhook with one burn alert of the SLO's tier, at `at`. */
  async alert(
    at: number,
    slo: SimSlo,
    tier: { severity: 'critical' | 'warning'; long: string; short: string },
    status: 'firing' | 'resolved',
    startsAt: number,
    alertname = 'MaestroSLOErrorBudgetBurn',
  ): Promise<Incident | null> {
    const definition = catalog.byName.get(slo)!;
    const labels = {
      alertname,
      slo,
      service: definition.service,
      severity: tier.severity,
      long_window: tier.long,
      short_window: tier.short,
      slo_objective: String(definition.objective),
      slo_period: definition.period,
    };
    const body = {
      version: '4',
      groupKey: `{}:{alertname="${alertname}", slo="${slo}"}`,
      receiver: 'maestro-alertcenter-router',
      status,
      externalURL: 'http://127.0.0.1:9093',
      groupLabels: {},
      commonLabels: labels,
      commonAnnotations: {},
      alerts: [
        {
          status,
          labels,
          annotations: { summary: `${slo} burning`, burn_rate: '15' },
          startsAt: new Date(startsAt).toISOString(),
          endsAt: status === 'resolved' ? new Date(at).toISOString() : '0001-01-01T00:00:00Z',
          generatorURL: 'http://127.0.0.1:9090/graph',
          fingerprint: `${slo}-${tier.severity}-${tier.long}`.replace(/[^a-z0-9]/g, '').slice(0, 16),
        },
      ],
    };
    const parsed = parseWebhookPayload(body);
    if (!parsed.ok) throw new Error(parsed.message);
    const alerts = normalizePayload(parsed.payload, { catalog, defaultSeverity: 'warning' });
    let incident: Incident | null = null;
    for (const batch of batchByIncident(routeAlerts(alerts, this.routing, new Date(at)), at)) {
      incident = (await updateIncident(batch, this.store, this.routing, at)).incident;
    }
    this.seq += 1;
    return incident;
  }

  /** What time does at `at`: hold-downs end, incidents resolve. */
  async tick(at: number): Promise<void> {
    await tickDueIncidents(at, { store: this.store, routing: () => this.routing, enqueue: async () => {}, metrics: this.metrics });
  }

  /** A PagerDuty trigger as the sync pipeline records it. */
  async page(incident: Incident, at: number, decision: 'first_notification' | 'escalated'): Promise<void> {
    await this.store.appendTimeline(incident.id, [
      {
        at: new Date(at).toISOString(),
        kind: 'notification_sent',
        receiver: 'oncall-pagerduty',
        channel: 'pagerduty',
        decision,
        action: 'triggered',
        receipt: { pagerduty: { dedupKey: incident.id } },
      },
    ]);
  }

  /** On-call acknowledges the incident at `at`, as the API's /ack does. */
  async acknowledge(incident: Incident, at: number): Promise<void> {
    await this.store.updateById(
      incident.id,
      (current) => acknowledgeIncident(current, { name: 'oncall@maestro.example', id: null, via: 'api' }, at),
      nextTickAt,
    );
  }
}

export const TIERS = {
  fast: { severity: 'critical', long: '1h', short: '5m' },
  slow: { severity: 'critical', long: '6h', short: '30m' },
  warning: { severity: 'warning', long: '6h', short: '30m' },
} as const;

export { SIM_SLOS };
