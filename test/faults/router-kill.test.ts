import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlackThreadStore } from '../../src/notifiers/legacy/slack/thread-store.js';
import type { ChannelKind, Notification } from '../../src/notifiers/types.js';
import { deliveryQueueName } from '../../src/queue/names.js';
import { burnRatePayload } from '../support/payloads.js';
import { exited, OwnRedis, type RouterProcess } from '../support/processes.js';
import { eventually, testPrefix } from '../support/router.js';
import {
  allDelivered,
  expectedNotifications,
  killIfRunning,
  postWebhook,
  QueueInspector,
  reportFigures,
  routerEnv,
  startFaultPeers,
  startReadyRouter,
  tally,
  type FaultPeers,
  type NotificationKey,
} from './harness.js';

const WEBHOOKS = 40;
const ALERTS_PER_WEBHOOK = 5;
/**
 * PagerDuty's answers are held, so pages are in flight (sent, not yet acknowledged) at the kill.
 * SMTP goes through the proxy too, undelayed: the SMTP peer (smtp-server) reports a connection reset
 * by the killed router as an 'error' event it has no listener for, which would fail the run.
 */
const DELAYS_MS = { pagerduty: 300, email: 0 };
/**
 * The dead router's jobs run again once their locks lapse and a stalled-job check finds them: about
 * a minute with the default JOB_LOCK_DURATION (30s), a few seconds with this.
 */
const JOB_LOCK_DURATION = '3s';

/** A job the killed router held: which notification, and whether its Slack ts was already stored. */
interface InFlight {
  key: NotificationKey;
  channel: ChannelKind;
  slackTsStored: boolean;
}

describe('fault: the router process is killed (SIGKILL) in the middle of deliveries', () => {
  const prefix = testPrefix();
  let redis: OwnRedis;
  let peers: FaultPeers;
  let queues: QueueInspector;
  let client: Redis;
  const routers: RouterProcess[] = [];

  beforeAll(async () => {
    [redis, peers] = await Promise.all([OwnRedis.start(), startFaultPeers({ delayMs: DELAYS_MS })]);
    queues = new QueueInspector(redis.url, prefix);
    client = new Redis(redis.url);
  });

  afterAll(async () => {
    await Promise.all(routers.map((router) => killIfRunning(router.child)));
    client?.disconnect();
    await queues?.close();
    await Promise.all([redis?.down(), peers?.close()]);
  });

  /** The delivery jobs the dead router held, read from its queues' active lists. */
  async function inFlightAtKill(): Promise<InFlight[]> {
    const active = await queues.active();
    const inFlight: InFlight[] = [];
    for (const channel of ['pagerduty', 'slack', 'email'] as const) {
      for (const id of active[deliveryQueueName(channel)] ?? []) {
        const data = JSON.parse((await client.hget(`${prefix}:${deliveryQueueName(channel)}:${id}`, 'data'))!) as Notification;
        const slackTsStored = channel === 'slack' && (await new SlackThreadStore(client, prefix).get(data)) !== null;
        inFlight.push({ key: `${channel} ${data.alert.labels.instance} ${data.alert.status}`, channel, slackTsStored });
      }
    }
    return inFlight;
  }

  it('delivers every accepted alert after a restart; only in-flight ones go out again, and no second incident', async () => {
    const env = routerEnv(peers, redis.url, prefix, { JOB_LOCK_DURATION });
    const first = await startReadyRouter(env);
    routers.push(first);

    const payloads = Array.from({ length: WEBHOOKS }, (_, n) =>
      burnRatePayload({ count: ALERTS_PER_WEBHOOK, severity: n % 2 === 0 ? 'critical' : 'warning', seed: `k${n}` }),
    );
    const answers = await Promise.all(payloads.map((payload) => postWebhook(first.url, payload)));
    const accepted = answers.filter((answer) => answer.outcome === 202).map((answer) => answer.payload);
    const expected = expectedNotifications(accepted);

    // Mid-stream: a third of the Slack messages out, pages sent and waiting for their (held) answer.
    await eventually(() => peers.slackCalls.length >= 30, 60_000, 'a third of the Slack messages to go out');
    first.child.kill('SIGKILL');
    await exited(first.child);
    const killedAt = Date.now();
    const deliveredBeforeKill = tally(peers, expected).delivered;
    const inFlight = await inFlightAtKill();

    const second = await startReadyRouter(env);
    routers.push(second);
    const restartedAt = Date.now();
    await allDelivered(peers, expected, 240_000);
    const recoveredAt = Date.now();
    await eventually(() => queues.idle(), 60_000, 'every queue to drain');

    const counts = tally(peers, expected);
    const inFlightKeys = new Set(inFlight.map((job) => job.key));
    const criticalAlerts = accepted.filter((p) => p.alerts[0].labels.severity === 'critical').length * ALERTS_PER_WEBHOOK;
    const resentOf = (channel: ChannelKind) => counts.resentKeys.filter((key) => key.startsWith(`${channel} `));
    const slackStored = inFlight.filter((job) => job.slackTsStored).map((job) => job.key);
    reportFigures('router-sigkill', {
      webhooksSent: answers.length,
      answered202: accepted.length,
      alertsAccepted: accepted.length * ALERTS_PER_WEBHOOK,
      notificationsExpected: counts.expected,
      deliveredBeforeKill,
      inFlightAtKill: Object.fromEntries((['pagerduty', 'slack', 'email'] as const).map((c) => [c, inFlight.filter((j) => j.channel === c).length])),
      slackInFlightWithStoredTs: slackStored.length,
      delivered: counts.delivered,
      resent: { pagerduty: resentOf('pagerduty').length, slack: resentOf('slack').length, email: resentOf('email').length },
      pagerdutyIncidents: peers.pagerduty.incidents.size,
      secondIncidents: peers.pagerduty.incidents.size - criticalAlerts,
      secondSlackMessages: resentOf('slack').length,
      duplicates: counts.duplicates,
      lost: counts.lost,
      jobLockDuration: JOB_LOCK_DURATION,
      restartToAllDeliveredMs: recoveredAt - restartedAt,
      killToAllDeliveredMs: recoveredAt - killedAt,
    });

    expect(accepted).toHaveLength(WEBHOOKS);
    expect(inFlight.length, 'deliveries in flight when the router died').toBeGreaterThan(0);
    expect(counts).toMatchObject({ lost: 0, unexpected: 0 });
    // Only what the dead router held went out again.
    expect(counts.resentKeys.filter((key) => !inFlightKeys.has(key))).toEqual([]);
    // PagerDuty: one incident per alert, the resent triggers folded in by dedup_key.
    expect(peers.pagerduty.incidents.size).toBe(criticalAlerts);
    // Slack: a job whose message ts was stored before the kill posts nothing again.
    expect(resentOf('slack').filter((key) => slackStored.includes(key))).toEqual([]);
  }, 400_000);
});
