import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OwnRedis, type RouterProcess } from '../support/processes.js';
import { eventually, testPrefix } from '../support/router.js';
import {
  type FaultPeers,
  killIfRunning,
  outcomesOf,
  postWebhook,
  QueueInspector,
  reportFigures,
  routerEnv,
  startFaultPeers,
  startReadyRouter,
  type WebhookResult,
} from './harness.js';

/** Issue 13's storm: 10,000 alerts of the three SLOs, each with an `instance` of its own. */
const ALERTS = 10_000;
const SLOS = ['api-latency', 'database-availability', 'run-success'] as const;
const TIERS = [
  { severity: 'critical', longWindow: '1h', shortWindow: '5m', threshold: 14.4 },
  { severity: 'critical', longWindow: '6h', shortWindow: '30m', threshold: 12 },
  { severity: 'warning', longWindow: '6h', shortWindow: '30m', threshold: 6 },
] as const;
/** Alertmanager-like senders, each posting one webhook at a time (60 s of storm compressed into as fast as they go). */
const CONNECTIONS = 8;
const ADMIN_TOKEN = 'storm-admin-token-7d3e';

/** The storm opens with the warning tiers alone; the critical tiers join after these alerts (an escalation mid-storm). */
const WARNINGS_FIRST = 300;

/**
 * Alert `n`: SLO n mod 3; after the first WARNINGS_FIRST, tier (n div 3) mod 3, so any 9 alerts in
 * a row hold every tier of every SLO. Its figures move with n, as they would over the storm: the
 * burn now rises, the budget drains.
 */
function stormAlert(n: number) {
  const slo = SLOS[n % SLOS.length]!;
  const tier = n < WARNINGS_FIRST ? TIERS[2] : TIERS[Math.floor(n / SLOS.length) % TIERS.length]!;
  const progress = n / ALERTS;
  const burnShort = (tier.threshold * 1.5 + 40 * progress).toFixed(2);
  const remaining = (0.9 - 0.6 * progress).toFixed(4);
  return {
    status: 'firing',
    labels: {
      alertname: 'MaestroSLOErrorBudgetBurn',
      slo,
      service: 'maestro-api',
      severity: tier.severity,
      long_window: tier.longWindow,
      short_window: tier.shortWindow,
      burn_rate_threshold: String(tier.threshold),
      instance: `storm-${n}`,
    },
    annotations: {
      summary: `${slo} is burning its error budget`,
      burn_rate: (tier.threshold * 1.1).toFixed(2),
      burn_rate_short: burnShort,
      burn_rate_long: (tier.threshold * 1.1).toFixed(2),
      error_budget_remaining: remaining,
    },
    startsAt: '2026-12-07T12:00:00Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus.maestro.example:9090/graph?g0.expr=x',
    fingerprint: `storm${n.toString(16).padStart(11, '0')}`,
  };
}

/** The alerts of the last webhook: every tier of every SLO, with the newest figures. */
const LAST_WEBHOOK = 20;

/** The storm in webhooks of 10 to 50 alerts, in order; the last one holds the newest LAST_WEBHOOK alerts. */
function stormWebhooks(): Array<Array<ReturnType<typeof stormAlert>>> {
  const batches: Array<Array<ReturnType<typeof stormAlert>>> = [];
  const until = ALERTS - LAST_WEBHOOK;
  for (let n = 0, k = 0; n < until; k++) {
    const size = Math.min(10 + ((k * 17) % 41), until - n);
    batches.push(Array.from({ length: size }, (_, i) => stormAlert(n + i)));
    n += size;
  }
  batches.push(Array.from({ length: LAST_WEBHOOK }, (_, i) => stormAlert(until + i)));
  return batches;
}

const webhook = (alerts: Array<ReturnType<typeof stormAlert>>, k: number) => ({
  receiver: 'alertcenter',
  status: 'firing',
  alerts,
  groupLabels: { alertname: 'MaestroSLOErrorBudgetBurn' },
  commonLabels: { alertname: 'MaestroSLOErrorBudgetBurn', service: 'maestro-api' },
  commonAnnotations: {},
  externalURL: 'http://alertmanager.maestro.example:9093',
  version: '4',
  groupKey: `{}:{storm="${k}"}`,
  truncatedAlerts: 0,
});

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil((p / 100) * values.length) - 1)]!;

describe('storm: 10,000 alerts of three SLOs with distinct instances', () => {
  const prefix = testPrefix();
  let redis: OwnRedis;
  let peers: FaultPeers;
  let router: RouterProcess | undefined;
  let queues: QueueInspector;

  beforeAll(async () => {
    [redis, peers] = await Promise.all([OwnRedis.start(), startFaultPeers()]);
    router = await startReadyRouter(routerEnv(peers, redis.url, prefix, { ADMIN_TOKEN }));
    queues = new QueueInspector(redis.url, prefix);
  });

  afterAll(async () => {
    await killIfRunning(router?.child);
    await queues?.close();
    await Promise.all([redis?.down(), peers?.close()]);
  });

  const adminGet = async (path: string) => {
    const response = await fetch(`${router!.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(response.status).toBe(200);
    return (await response.json()) as any;
  };
  const metric = async (name: string, label = '') => {
    const text = await (await fetch(`${router!.url}/metrics`)).text();
    return text
      .split('\n')
      .filter((line) => line.startsWith(`${name}{`) && line.includes(label))
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  };

  it('makes at most one page, one Slack message and one mail thread per SLO, each showing its newest figures', async () => {
    const batches = stormWebhooks();
    const last = batches.pop()!;
    const results: WebhookResult[] = [];
    let next = 0;
    const startedAt = Date.now();
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (next < batches.length) {
          const k = next++;
          results.push(await postWebhook(router!.url, webhook(batches[k]!, k)));
        }
      }),
    );
    // The newest alerts last, once every other webhook was answered (and a millisecond later): their figures must win.
    await new Promise((resolve) => setTimeout(resolve, 5));
    results.push(await postWebhook(router!.url, webhook(last, batches.length)));
    const sentFor = Date.now() - startedAt;

    // Settled: every webhook processed, no sync waiting, running or deferred, every receiver told the latest.
    const settled = async (): Promise<any[] | null> => {
      if (!(await queues.idle())) return null;
      const { incidents } = await adminGet('/api/v1/incidents?state=open');
      if (incidents.length < SLOS.length) return null;
      const details = await Promise.all(incidents.map((incident: any) => adminGet(`/api/v1/incidents/${incident.id}`)));
      return details.every(({ receivers }) =>
        Object.values(receivers as Record<string, { status: string }>).every((r) => r.status === 'sent' || r.status === 'not_notified'),
      )
        ? details
        : null;
    };
    const details: any[] = await eventually(settled, 180_000, 'the storm to be processed and every channel to converge');
    const settledAt = Date.now();

    const incidents = details.map(({ incident }: any) => incident);
    const slackMessages = [...peers.slack.messages.values()].filter((message) => message.thread_ts === undefined);
    const updates = peers.slack.received.filter((call) => call.method === 'chat.update');
    const threads = new Set(peers.smtp.received.map((mail) => mail.parsed.inReplyTo ?? mail.parsed.messageId));
    const triggers = peers.pagerduty.received.filter((request) => request.event.event_action === 'trigger');
    const answerMs = results.map((result) => result.endedAt - result.startedAt);
    const [changed, unchanged] = await Promise.all([
      metric('alertcenter_alert_copies_total', 'outcome="changed"'),
      metric('alertcenter_alert_copies_total', 'outcome="unchanged"'),
    ]);
    reportFigures('storm', {
      alerts: ALERTS,
      webhooks: results.length,
      connections: CONNECTIONS,
      answers: outcomesOf(results),
      sendingMs: sentFor,
      alertsPerSecond: Math.round(ALERTS / (sentFor / 1000)),
      webhookMs: { p50: percentile(answerMs, 50), p99: percentile(answerMs, 99), max: Math.max(...answerMs) },
      lastWebhookToSettledMs: settledAt - startedAt - sentFor,
      // The first critical alerts are in the webhooks after the first WARNINGS_FIRST alerts.
      firstPageAfterStartMs: peers.pagerdutyEvents[0]!.at - startedAt,
      lastTriggerAfterStartMs: peers.pagerdutyEvents.at(-1)!.at - startedAt,
      incidents: incidents.length,
      alertsPerIncident: incidents.map((incident: any) => Object.keys(incident.alerts).length),
      alertCopies: { changed, unchanged },
      pagerdutyIncidents: peers.pagerduty.incidents.size,
      pagerdutyTriggers: triggers.length,
      slackMessages: slackMessages.length,
      slackUpdates: updates.length,
      slackReplies: peers.slack.messages.size - slackMessages.length,
      mails: peers.smtp.received.length,
      mailThreads: threads.size,
    });

    expect(outcomesOf(results)).toEqual({ 202: results.length });
    expect(changed + unchanged).toBe(ALERTS);
    // One incident per SLO, holding every alert of that SLO, its three tiers firing.
    expect(incidents.map((incident: any) => incident.slo).sort()).toEqual([...SLOS]);
    for (const incident of incidents) {
      const ofSlo = Array.from({ length: ALERTS }, (_, n) => n).filter((n) => SLOS[n % SLOS.length] === incident.slo).length;
      // The API lists the first 1,000 alerts of an incident; its tiers count them all.
      expect(Object.keys(incident.alerts)).toHaveLength(Math.min(ofSlo, 1_000));
      expect(Object.values(incident.tiers).reduce((sum: number, tier: any) => sum + tier.firingAlerts, 0)).toBe(ofSlo);
      expect(Object.values(incident.tiers).filter((tier: any) => tier.firing)).toHaveLength(TIERS.length);
      expect(incident.severity).toBe('critical');
    }
    // At most one page, one Slack message and one mail thread per SLO.
    expect(peers.pagerduty.incidents.size).toBeLessThanOrEqual(SLOS.length);
    expect(new Set(triggers.map((request) => request.event.dedup_key))).toEqual(
      new Set(incidents.map((incident: any) => `alertcenter/incident/${incident.id}`)),
    );
    expect(slackMessages.length).toBeLessThanOrEqual(SLOS.length);
    expect(new Set(slackMessages.map((message) => message.metadata?.event_payload.incident_id))).toEqual(
      new Set(incidents.map((incident: any) => incident.id)),
    );
    expect(threads.size).toBeLessThanOrEqual(SLOS.length);
    // One escalation per SLO (its warning tier first, then the critical ones): at most one reply in each thread.
    expect(peers.slack.messages.size - slackMessages.length).toBeLessThanOrEqual(SLOS.length);
    // Coalesced: one chat.update per incident every 3 s at most, over the time the storm took to settle.
    expect(updates.length).toBeLessThanOrEqual(SLOS.length * (Math.ceil((settledAt - startedAt) / 3_000) + 1));

    // Each tier's figures are those of its newest alert (the last webhook's), in Redis and on Slack.
    for (const incident of incidents) {
      const newest = new Map(
        last.filter((alert) => alert.labels.slo === incident.slo).map((alert) => [`${alert.labels.severity}/${alert.labels.long_window}`, alert]),
      );
      expect(newest.size).toBe(TIERS.length);
      for (const tier of Object.values(incident.tiers) as any[]) {
        const alert = newest.get(`${tier.severity}/${tier.figures.longWindow}`)!;
        expect(tier.figures, `${incident.slo} ${tier.id}`).toMatchObject({
          burnRateShort: Number(alert.annotations.burn_rate_short),
          budgetRemaining: Number(alert.annotations.error_budget_remaining),
        });
      }
      const message = slackMessages.find((candidate) => candidate.metadata?.event_payload.incident_id === incident.id)!;
      const burnsNow = (Object.values(incident.tiers) as any[]).map((tier) => `${tier.figures.burnRateShort.toFixed(1)}x now`);
      expect(
        burnsNow.some((burn) => message.text!.includes(burn)),
        `${incident.slo}: ${message.text} shows one of ${burnsNow.join(', ')}`,
      ).toBe(true);
    }
  }, 300_000);
});
