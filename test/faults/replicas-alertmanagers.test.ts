import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AlertmanagerProcess, hasAlertmanager, type PostableAlert, startAlertmanager } from '../support/alertmanager.js';
import { OwnRedis, type RouterProcess } from '../support/processes.js';
import { eventually, testPrefix } from '../support/router.js';
import {
  allDelivered,
  CHANNELS_BY_SEVERITY,
  type FaultPeers,
  killIfRunning,
  type NotificationKey,
  QueueInspector,
  reportFigures,
  routerEnv,
  shippedRoutingWith,
  startFaultPeers,
  startReadyRouter,
  tally,
  WEBHOOK_PATH,
  WEBHOOK_TOKEN,
} from './harness.js';

const SEVERITIES = ['critical', 'warning'] as const;
const ALERTS_PER_SEVERITY = 4;

/** Unclustered, quick to notify, and every notification goes to one router replica. */
function alertmanagerConfig(routerUrl: string) {
  return {
    route: { receiver: 'router', group_by: ['alertname', 'slo', 'severity'], group_wait: '1s', group_interval: '1s', repeat_interval: '1h' },
    receivers: [
      {
        name: 'router',
        webhook_configs: [
          { url: `${routerUrl}${WEBHOOK_PATH}`, send_resolved: true, http_config: { authorization: { type: 'Bearer', credentials: WEBHOOK_TOKEN } } },
        ],
      },
    ],
  };
}

/**
 * Alerts as Prometheus posts them; each names its own instance so the peers can tell them apart.
 * They carry no SLO, so each one is an incident of its own (the SLO case is test/e2e/alertmanager.test.ts).
 */
function burnAlerts(startsAt: Date): PostableAlert[] {
  return SEVERITIES.flatMap((severity) =>
    Array.from({ length: ALERTS_PER_SEVERITY }, (_, i) => ({
      labels: {
        alertname: 'MaestroErrorRateHigh',
        service: 'maestro-api',
        severity,
        long_window: '1h',
        short_window: '5m',
        instance: `am-${severity}-${i}`,
      },
      annotations: { summary: 'error budget burning', burn_rate: '14.4' },
      startsAt: startsAt.toISOString(),
      endsAt: new Date(Date.now() + 10 * 60_000).toISOString(),
      generatorURL: 'http://prometheus.maestro.example:9090/graph?g0.expr=x',
    })),
  );
}

function notificationsOf(alerts: PostableAlert[], status: 'firing' | 'resolved'): Set<NotificationKey> {
  return new Set(
    alerts.flatMap((alert) =>
      CHANNELS_BY_SEVERITY[alert.labels.severity as 'critical' | 'warning'].map((channel) => `${channel} ${alert.labels.instance} ${status}`),
    ),
  );
}

/** Sum of a metric's samples whose labels include all of `labels`, from a router's /metrics. */
async function metric(router: RouterProcess, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${router.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) && Object.entries(labels).every(([label, value]) => line.includes(`${label}="${value}"`)))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

const title = `fault: two router replicas share one Redis and get the same webhooks from two Alertmanagers${
  hasAlertmanager ? '' : ' (skipped: prometheus-alertmanager not installed)'
}`;

describe.skipIf(!hasAlertmanager)(title, () => {
  const prefix = testPrefix();
  let redis: OwnRedis;
  let peers: FaultPeers;
  let queues: QueueInspector;
  const replicas: RouterProcess[] = [];
  const alertmanagers: AlertmanagerProcess[] = [];

  beforeAll(async () => {
    [redis, peers] = await Promise.all([OwnRedis.start(), startFaultPeers()]);
    // Resolves go out at once: no hold-down to wait for.
    const env = routerEnv(peers, redis.url, prefix, { ROUTING_FILE: shippedRoutingWith({ resolveHold: '0s' }) });
    replicas.push(...(await Promise.all([startReadyRouter(env), startReadyRouter(env)])));
    // Each Alertmanager posts to its own replica.
    alertmanagers.push(...(await Promise.all(replicas.map((replica) => startAlertmanager(alertmanagerConfig(replica.url))))));
    queues = new QueueInspector(redis.url, prefix);
  });

  afterAll(async () => {
    await Promise.all(alertmanagers.map((alertmanager) => alertmanager.stop()));
    await Promise.all(replicas.map((replica) => killIfRunning(replica.child)));
    await queues?.close();
    await Promise.all([redis?.down(), peers?.close()]);
  });

  /** Prometheus sends every alert to every Alertmanager it knows. */
  const postToAll = (alerts: PostableAlert[]) => Promise.all(alertmanagers.map((alertmanager) => alertmanager.postAlerts(alerts)));
  const webhooksSentBy = () => Promise.all(alertmanagers.map((alertmanager) => alertmanager.successfulWebhooks()));
  const groups = SEVERITIES.length;

  /** Both Alertmanagers got at least `perAlertmanager` webhooks through, and the router has nothing left to do. */
  async function settled(perAlertmanager: number): Promise<boolean> {
    return (await webhooksSentBy()).every((sent) => sent >= perAlertmanager) && (await queues.idle());
  }

  /** What each process has to say, to explain a wait that failed. */
  async function situation(): Promise<string> {
    const tail = (text: string) => text.trim().split('\n').slice(-8).join('\n');
    const sent = await webhooksSentBy().catch((error: Error) => error.message);
    return [
      `webhooks the Alertmanagers got through: ${JSON.stringify(sent)}`,
      ...alertmanagers.map((alertmanager, i) => `alertmanager ${i} (${alertmanager.url}):\n${tail(alertmanager.output())}`),
      ...replicas.map(
        (replica, i) => `replica ${i} (${replica.url}, ${replica.child.exitCode ?? replica.child.signalCode ?? 'running'}):\n${tail(replica.output())}`,
      ),
    ].join('\n');
  }
  const explained = <T>(wait: Promise<T>) =>
    wait.catch(async (error: Error) => {
      throw new Error(`${error.message}\n${await situation()}`);
    });

  it('sends one notification per incident state per receiver: firing, then resolved', async () => {
    const alerts = burnAlerts(new Date(Date.now() - 2 * 60_000));
    const firing = notificationsOf(alerts, 'firing');
    const resolved = notificationsOf(alerts, 'resolved');

    await postToAll(alerts);
    await explained(allDelivered(peers, firing, 60_000));
    await explained(eventually(() => settled(groups), 60_000, 'both Alertmanagers to notify every group, and the queues to drain'));
    const afterFiring = tally(peers, firing);

    await postToAll(alerts.map((alert) => ({ ...alert, endsAt: new Date().toISOString() })));
    const expected = new Set([...firing, ...resolved]);
    await explained(allDelivered(peers, expected, 60_000));
    await explained(eventually(() => settled(2 * groups), 60_000, 'both Alertmanagers to notify every resolved group, and the queues to drain'));

    const counts = tally(peers, expected);
    const webhook = { route: WEBHOOK_PATH, status_code: '202' };
    const received = await Promise.all(replicas.map((replica) => metric(replica, 'http_request_duration_seconds_count', webhook)));
    const copies = (outcome: string) => Promise.all(replicas.map((replica) => metric(replica, 'alertcenter_alert_copies_total', { outcome })));
    const [changed, unchanged] = await Promise.all([copies('changed'), copies('unchanged')]);
    const incidents = await Promise.all(replicas.map((replica) => metric(replica, 'alertcenter_incidents')));
    const listed = (await (await fetch(`${replicas[0]!.url}/api/v1/incidents?limit=100`)).json()) as { incidents: Array<{ state: string; rev: number }> };
    reportFigures('replicas-two-alertmanagers', {
      alerts: alerts.length,
      webhooksSentByAlertmanagers: await webhooksSentBy(),
      webhooksAcceptedByReplicas: received,
      copiesChangingAnIncidentByReplicas: changed,
      copiesChangingNothingByReplicas: unchanged,
      incidentsInRedis: incidents[0],
      incidentRevisions: listed.incidents.map((incident) => incident.rev),
      notificationsExpected: counts.expected,
      firingDelivered: afterFiring.delivered,
      delivered: counts.delivered,
      resent: counts.resent,
      duplicates: counts.duplicates,
      lost: counts.lost,
    });

    // Both replicas took the same webhooks, and only the first copy of each alert state changed its
    // incident: each went from opened (rev 1) to resolved (rev 2), and no further. Copies: one per
    // alert state (16) and at least one more of every alert, as both Alertmanagers sent every alert
    // in some state. Not two of each state: an Alertmanager flushes a new group at once when its first
    // alert started more than group_wait ago, so its first webhook may carry part of the group, and
    // the rest of the firing copies come a group_interval later, after the resolve here.
    const sum = (counts: number[]) => counts.reduce((a, b) => a + b, 0);
    expect(received.every((count) => count >= 2 * groups)).toBe(true);
    expect(listed.incidents.map((incident) => [incident.state, incident.rev])).toEqual(Array(alerts.length).fill(['resolved', 2]));
    expect(sum(changed) + sum(unchanged)).toBeGreaterThanOrEqual(alerts.length * 3);
    expect(incidents[0]).toBe(alerts.length);
    expect(afterFiring).toMatchObject({ lost: 0, resent: 0, duplicates: 0, unexpected: 0 });
    expect(counts).toMatchObject({ lost: 0, resent: 0, duplicates: 0, unexpected: 0 });
    expect([...peers.pagerduty.incidents.values()].map((incident) => [incident.status, incident.events])).toEqual(
      Array(ALERTS_PER_SEVERITY).fill(['resolved', 2]),
    );
  }, 300_000);
});
