import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { burnRatePayload } from '../support/payloads.js';
import { OwnRedis, type RouterProcess } from '../support/processes.js';
import { eventually, testPrefix } from '../support/router.js';
import {
  allDelivered,
  expectedNotifications,
  type FaultPeers,
  failedAttempts,
  instanceIn,
  killIfRunning,
  postWebhook,
  QueueInspector,
  reportFigures,
  routerEnv,
  startFaultPeers,
  startReadyRouter,
  tally,
} from './harness.js';

/** The first HUNG requests of each peer are read and never answered. */
const HUNG = 3;
const TIMEOUT_MS = 5_000;
/** One slot more than the hung requests: the worker keeps one to deliver the rest. */
const CONCURRENCY = HUNG + 1;
const hangFirst = (_request: unknown, index: number) => (index < HUNG ? { kind: 'hang' as const } : { kind: 'ok' as const });

describe('fault: a peer hangs (accepts the connection, never answers)', () => {
  const prefix = testPrefix();
  let redis: OwnRedis;
  let peers: FaultPeers;
  let router: RouterProcess | undefined;
  let queues: QueueInspector;

  beforeAll(async () => {
    [redis, peers] = await Promise.all([OwnRedis.start(), startFaultPeers({ slack: hangFirst, pagerduty: hangFirst })]);
    peers.smtp.setBehavior({ kind: 'hang' }, HUNG);
    router = await startReadyRouter(routerEnv(peers, redis.url, prefix, { DELIVERY_TIMEOUT: `${TIMEOUT_MS}ms`, DELIVERY_CONCURRENCY: String(CONCURRENCY) }));
    queues = new QueueInspector(redis.url, prefix);
  });

  afterAll(async () => {
    await killIfRunning(router?.child);
    await queues?.close();
    await Promise.all([redis?.down(), peers?.close()]);
  });

  it('times the hung requests out, retries them, and keeps delivering the rest meanwhile', async () => {
    const payloads = [
      ...Array.from({ length: 15 }, (_, n) => burnRatePayload({ slo: null, count: 2, severity: 'warning', seed: `h${n}` })),
      ...Array.from({ length: 10 }, (_, n) => burnRatePayload({ slo: null, count: 2, severity: 'critical', seed: `g${n}` })),
    ];
    const sentAt = Date.now();
    const answers = await Promise.all(payloads.map((payload) => postWebhook(router!.url, payload)));
    const accepted = answers.filter((answer) => answer.outcome === 202).map((answer) => answer.payload);
    const expected = expectedNotifications(accepted);
    await allDelivered(peers, expected, 120_000);
    await eventually(() => queues.idle(), 60_000, 'every queue to drain');

    const counts = tally(peers, expected);
    const failures = failedAttempts(router!.output());
    // A hung request started after sentAt and was held TIMEOUT_MS: what arrived before sentAt + TIMEOUT_MS
    // was delivered while the hung ones still held their worker slots.
    const duringHang = (arrivals: Array<{ at: number }>) => arrivals.filter((arrival) => arrival.at < sentAt + TIMEOUT_MS).length;
    const okSlack = peers.slackCalls.filter((call) => call.behavior.kind === 'ok');
    const okPagerDuty = peers.pagerdutyEvents.filter((event) => event.behavior.kind === 'ok');
    const flowed = { slack: duringHang(okSlack), email: duringHang(peers.mails), pagerduty: duringHang(okPagerDuty) };
    // Each hung request's alert, then delivered by exactly one later request.
    const deliveriesAfterHang = [
      ...peers.slackCalls.slice(0, HUNG).map(({ record }) => okSlack.filter((call) => instanceIn(call.record.args) === instanceIn(record.args)).length),
      ...peers.pagerdutyEvents
        .slice(0, HUNG)
        .map(({ record }) => okPagerDuty.filter((event) => event.record.event.dedup_key === record.event.dedup_key).length),
    ];
    reportFigures('peer-hang', {
      webhooksSent: answers.length,
      answered202: accepted.length,
      alertsAccepted: accepted.length * 2,
      notificationsExpected: counts.expected,
      hungRequestsPerChannel: HUNG,
      deliveryTimeoutMs: TIMEOUT_MS,
      concurrency: CONCURRENCY,
      failedAttempts: failures,
      deliveredWhileHung: flowed,
      delivered: counts.delivered,
      resent: counts.resent,
      duplicates: counts.duplicates,
      lost: counts.lost,
      deadLetters: await queues.deadLetters(),
    });

    expect(accepted).toHaveLength(payloads.length);
    expect(failures).toEqual({ 'slack/timeout': HUNG, 'email/timeout': HUNG, 'pagerduty/timeout': HUNG });
    for (const channel of ['slack', 'email', 'pagerduty'] as const) {
      expect(flowed[channel], `${channel} deliveries while its hung requests were held`).toBeGreaterThan(0);
    }
    expect(deliveriesAfterHang).toEqual(Array(2 * HUNG).fill(1));
    expect(counts).toMatchObject({ lost: 0, resent: 0, duplicates: 0, unexpected: 0 });
    expect(await queues.deadLetters()).toBe(0);
  }, 300_000);
});
