import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { burnRatePayload } from '../support/payloads.js';
import { OwnRedis, type RouterProcess } from '../support/processes.js';
import { eventually, testPrefix } from '../support/router.js';
import {
  allDelivered,
  countValues,
  expectedNotifications,
  type FaultPeers,
  killIfRunning,
  outcomesOf,
  QueueInspector,
  reportFigures,
  routerEnv,
  sleep,
  startFaultPeers,
  startReadyRouter,
  startWebhookStream,
  tally,
} from './harness.js';

interface ReadinessSample {
  at: number;
  status: number | 'error';
}

/** Asks /readyz over and over, as a load balancer would, and keeps every answer. */
function watchReadiness(url: string) {
  const samples: ReadinessSample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const status = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(10_000) }).then(
        (res) => res.status,
        () => 'error' as const,
      );
      samples.push({ at: Date.now(), status });
      await sleep(50);
    }
  })();
  return {
    samples,
    seen: (status: number, after: number, times = 1) => samples.filter((sample) => sample.at > after && sample.status === status).length >= times,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

describe('fault: Redis goes away under a stream of webhooks', () => {
  const prefix = testPrefix();
  let redis: OwnRedis;
  let peers: FaultPeers;
  let router: RouterProcess | undefined;
  let queues: QueueInspector;

  beforeAll(async () => {
    [redis, peers] = await Promise.all([OwnRedis.start(), startFaultPeers()]);
    router = await startReadyRouter(routerEnv(peers, redis.url, prefix));
    queues = new QueueInspector(redis.url, prefix);
  });

  afterAll(async () => {
    await killIfRunning(router?.child);
    await queues?.close();
    await Promise.all([redis?.down(), peers?.close()]);
  });

  it('answers 503 (never 2xx or 4xx) while Redis is down, /readyz follows, and every accepted alert is delivered once per receiver', async () => {
    const url = router!.url;
    const readiness = watchReadiness(url);
    // Four Alertmanager groups; like Alertmanager, each sends its payload again after a 503.
    const stream = startWebhookStream(url, {
      senders: 4,
      retry503: true,
      payload: (n) => burnRatePayload({ slo: null, count: 2, severity: n % 3 === 0 ? 'critical' : 'warning', seed: `r${n}` }),
    });
    const answered = (outcome: number, after: number) => stream.results.filter((r) => r.outcome === outcome && r.startedAt > after).length;

    await eventually(() => answered(202, 0) >= 20, 30_000, 'webhooks accepted before the outage');
    await redis.down();
    const downAt = Date.now();
    await eventually(() => answered(503, downAt) >= 40 && readiness.seen(503, downAt, 5), 30_000, '503s and a not-ready /readyz during the outage');
    const upAt = Date.now();
    await redis.up();
    await eventually(() => readiness.seen(200, upAt) && answered(202, upAt) >= 20, 60_000, 'readiness and 202s after Redis returned');
    await stream.stop();
    await readiness.stop();

    const accepted = stream.results.filter((r) => r.outcome === 202).map((r) => r.payload);
    const expected = expectedNotifications(accepted);
    await allDelivered(peers, expected, 90_000);
    await eventually(() => queues.idle(), 60_000, 'every queue to drain');
    const counts = tally(peers, expected);
    const duringOutage = stream.results.filter((r) => r.startedAt > downAt && r.endedAt < upAt);
    reportFigures('redis-outage', {
      webhooksSent: stream.results.length,
      answers: outcomesOf(stream.results),
      answersDuringOutage: outcomesOf(duringOutage),
      payloadsAccepted: accepted.length,
      alertsAccepted: accepted.reduce((n, p) => n + p.alerts.length, 0),
      readyzDuringOutage: countValues(readiness.samples.filter((s) => s.at > downAt && s.at < upAt).map((s) => s.status)),
      outageMs: upAt - downAt,
      notificationsExpected: counts.expected,
      delivered: counts.delivered,
      resent: counts.resent,
      duplicates: counts.duplicates,
      lost: counts.lost,
    });

    expect(Object.keys(outcomesOf(stream.results)).sort()).toEqual(['202', '503']);
    expect(duringOutage.length).toBeGreaterThan(0);
    expect(duringOutage.every((r) => r.outcome === 503)).toBe(true);
    // Every payload was finally taken (Alertmanager-style resends), so every alert counts.
    expect(accepted.length).toBe(new Set(stream.results.map((r) => r.payload)).size);
    expect(readiness.samples.filter((s) => s.at > downAt + 500 && s.at < upAt).every((s) => s.status === 503)).toBe(true);
    expect(readiness.samples.at(-1)?.status).toBe(200);
    expect(counts).toMatchObject({ lost: 0, resent: 0, duplicates: 0, unexpected: 0 });
  }, 300_000);
});
