import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNEL_KINDS, type ChannelKind } from '../../src/domain/channels.js';
import { IncidentStore } from '../../src/incidents/store.js';
import { syncQueueName } from '../../src/queue/names.js';
import type { SyncJobData } from '../../src/queue/syncs.js';
import { burnRatePayload } from '../support/payloads.js';
import { exited, OwnRedis, type RouterProcess } from '../support/processes.js';
import { eventually, testPrefix } from '../support/router.js';
import {
  allDelivered,
  expectedNotifications,
  type FaultPeers,
  killIfRunning,
  type NotificationKey,
  postWebhook,
  QueueInspector,
  reportFigures,
  routerEnv,
  startFaultPeers,
  startReadyRouter,
  tally,
} from './harness.js';

const WEBHOOKS = 40;
const ALERTS_PER_WEBHOOK = 5;
/**
 * Every channel's answers are held, so notifications are in flight (acted on by the peer, not yet
 * acknowledged to the router) at the kill: a Slack message already posted, a page already open, a
 * mail already in the inbox, none of them recorded in the notification log yet. (SMTP goes through
 * the proxy for another reason too: the SMTP peer reports a connection reset by the killed router
 * as an 'error' event it has no listener for, which would fail the run.)
 */
const DELAYS_MS = { pagerduty: 300, slack: 300, email: 100 };
/**
 * The dead router's syncs run again once their locks lapse and a stalled-job check finds them:
 * about a minute with the default JOB_LOCK_DURATION (30s), a few seconds with this.
 */
const JOB_LOCK_DURATION = '3s';

/** A sync the killed router held: which notification, and what the channel already had of it. */
interface InFlight {
  key: NotificationKey;
  channel: ChannelKind;
  incidentId: string;
  /** Slack: the message was in the channel at the kill, its ts not in the notification log. */
  postedWithoutReceipt: boolean;
}

describe('fault: the router process is killed (SIGKILL) in the middle of syncs', () => {
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

  /** The syncs the dead router held, read from its queues' active lists, with their incident's alert. */
  async function inFlightAtKill(): Promise<InFlight[]> {
    const store = new IncidentStore(client, prefix);
    const active = await queues.active();
    const inFlight: InFlight[] = [];
    for (const channel of CHANNEL_KINDS) {
      for (const id of active[syncQueueName(channel)] ?? []) {
        const { incidentId, receiver } = (await queues.data(syncQueueName(channel), id)) as SyncJobData;
        const incident = (await store.get(incidentId))!;
        const instance = Object.values(incident.tiers)[0]!.labels.instance;
        const told = await store.toldOne(incidentId, receiver);
        const posted = [...peers.slack.messages.values()].some((message) => message.metadata?.event_payload.incident_id === incidentId);
        inFlight.push({
          key: `${channel} ${instance} ${incident.state === 'resolved' ? 'resolved' : 'firing'}`,
          channel,
          incidentId,
          postedWithoutReceipt: channel === 'slack' && posted && told?.receipt.slack === undefined,
        });
      }
    }
    return inFlight;
  }

  it('delivers every accepted alert after a restart: no second Slack message, no second PagerDuty incident, mail at least once', async () => {
    const env = routerEnv(peers, redis.url, prefix, { JOB_LOCK_DURATION });
    const first = await startReadyRouter(env);
    routers.push(first);

    // Alerts without an SLO: each one is an incident of its own, told to two receivers.
    const payloads = Array.from({ length: WEBHOOKS }, (_, n) =>
      burnRatePayload({ slo: null, count: ALERTS_PER_WEBHOOK, severity: n % 2 === 0 ? 'critical' : 'warning', seed: `k${n}` }),
    );
    const answers = await Promise.all(payloads.map((payload) => postWebhook(first.url, payload)));
    const accepted = answers.filter((answer) => answer.outcome === 202).map((answer) => answer.payload);
    const expected = expectedNotifications(accepted);

    // Mid-stream: a third of the Slack messages out, and syncs of every channel waiting for their (held) answer.
    await eventually(() => peers.slackCalls.length >= 60, 60_000, 'a third of the Slack messages to go out');
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
    const alerts = accepted.length * ALERTS_PER_WEBHOOK;
    const criticalAlerts = accepted.filter((p) => p.alerts[0].labels.severity === 'critical').length * ALERTS_PER_WEBHOOK;
    const resentOf = (channel: ChannelKind) => counts.resentKeys.filter((key) => key.startsWith(`${channel} `));
    const slackMessages = [...peers.slack.messages.values()].filter((message) => message.thread_ts === undefined);
    const lookups = peers.slackCalls.filter((call) => call.record.method === 'conversations.history').length;
    const postedWithoutReceipt = inFlight.filter((job) => job.postedWithoutReceipt).length;
    const inFlightOf = (channel: ChannelKind) => inFlight.filter((job) => job.channel === channel).length;
    reportFigures('router-sigkill', {
      webhooksSent: answers.length,
      answered202: accepted.length,
      alertsAccepted: alerts,
      incidents: alerts,
      notificationsExpected: counts.expected,
      deliveredBeforeKill,
      inFlightAtKill: { pagerduty: inFlightOf('pagerduty'), slack: inFlightOf('slack'), email: inFlightOf('email') },
      slackPostedWithoutReceiptAtKill: postedWithoutReceipt,
      slackHistoryLookups: lookups,
      delivered: counts.delivered,
      resent: { pagerduty: resentOf('pagerduty').length, slack: resentOf('slack').length, email: resentOf('email').length },
      slackMessages: slackMessages.length,
      secondSlackMessages: slackMessages.length - alerts,
      pagerdutyIncidents: peers.pagerduty.incidents.size,
      secondPagerdutyIncidents: peers.pagerduty.incidents.size - criticalAlerts,
      mailsResent: resentOf('email').length,
      duplicates: counts.duplicates,
      lost: counts.lost,
      jobLockDuration: JOB_LOCK_DURATION,
      restartToAllDeliveredMs: recoveredAt - restartedAt,
      killToAllDeliveredMs: recoveredAt - killedAt,
    });

    expect(accepted).toHaveLength(WEBHOOKS);
    expect(inFlightOf('slack'), 'Slack syncs in flight when the router died').toBeGreaterThan(0);
    // The case the look-up is for: messages in the channel whose ts the dead router never recorded.
    expect(postedWithoutReceipt, 'Slack messages posted and not recorded at the kill').toBeGreaterThan(0);
    expect(counts).toMatchObject({ lost: 0, unexpected: 0 });
    // Only what the dead router held went out again.
    expect(counts.resentKeys.filter((key) => !inFlightKeys.has(key))).toEqual([]);
    // Slack: one message per incident; the restarted router found the ones posted before the kill (conversations.history).
    expect(resentOf('slack')).toEqual([]);
    expect(slackMessages).toHaveLength(alerts);
    expect(lookups).toBeGreaterThanOrEqual(postedWithoutReceipt);
    // PagerDuty: one incident per page, a resent trigger folded in by its dedup_key.
    expect(peers.pagerduty.incidents.size).toBe(criticalAlerts);
    // Email stays at least once: a re-sent mail keeps its Message-ID (counted in FAULT-FIGURES, see docs/RELIABILITY.md).
    expect(resentOf('email').length).toBeLessThanOrEqual(inFlightOf('email'));
  }, 400_000);
});
