import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { burnRatePayload } from '../support/payloads.js';
import { exited, OwnRedis, type RouterProcess } from '../support/processes.js';
import { eventually, testPrefix } from '../support/router.js';
import {
  allDelivered,
  countValues,
  expectedNotifications,
  type FaultPeers,
  failedAttempts,
  killIfRunning,
  outcomesOf,
  QueueInspector,
  reportFigures,
  routerEnv,
  startFaultPeers,
  startReadyRouter,
  startWebhookStream,
  tally,
  WEBHOOK_PATH,
  WEBHOOK_TOKEN,
  type WebhookOutcome,
} from './harness.js';

/** Slow peers, so deliveries are still running when SIGTERM arrives. */
const DELAYS_MS = { slack: 400, pagerduty: 400, email: 100 };
const HELD_REQUESTS = 3;

/**
 * A webhook the router has begun to read: headers sent with `Expect: 100-continue` (Node answers
 * "100 Continue" once it has parsed them and handed the request over), half the body written.
 */
function startHeldRequest(url: string, payload: object) {
  const body = Buffer.from(JSON.stringify(payload));
  const half = Math.floor(body.length / 2);
  const req = request(`${url}${WEBHOOK_PATH}`, {
    method: 'POST',
    agent: false,
    headers: {
      'content-type': 'application/json',
      'content-length': body.length,
      authorization: `Bearer ${WEBHOOK_TOKEN}`,
      expect: '100-continue',
    },
  });
  const outcome = new Promise<WebhookOutcome>((resolve) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', () => resolve('reset'));
  });
  const reading = new Promise<void>((resolve) => req.on('continue', () => req.write(body.subarray(0, half), () => resolve())));
  req.flushHeaders();
  return { payload, reading, outcome, finish: () => req.end(body.subarray(half)) };
}

/** True once nothing listens on the port any more (the router stopped accepting). */
function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('fault: SIGTERM during load', () => {
  const prefix = testPrefix();
  let redis: OwnRedis;
  let peers: FaultPeers;
  let queues: QueueInspector;
  const routers: RouterProcess[] = [];

  beforeAll(async () => {
    [redis, peers] = await Promise.all([OwnRedis.start(), startFaultPeers({ delayMs: DELAYS_MS })]);
    queues = new QueueInspector(redis.url, prefix);
  });

  afterAll(async () => {
    await Promise.all(routers.map((router) => killIfRunning(router.child)));
    await queues?.close();
    await Promise.all([redis?.down(), peers?.close()]);
  });

  it('finishes in-flight requests and jobs, then exits 0; the next router delivers the rest', async () => {
    const env = routerEnv(peers, redis.url, prefix);
    const router = await startReadyRouter(env);
    routers.push(router);
    const port = Number(new URL(router.url).port);

    const stream = startWebhookStream(router.url, {
      senders: 4,
      payload: (n) => burnRatePayload({ slo: null, count: 2, severity: n % 2 === 0 ? 'critical' : 'warning', seed: `s${n}` }),
    });
    await eventually(() => stream.results.filter((r) => r.outcome === 202).length >= 20, 30_000, 'webhooks accepted under load');
    const held = Array.from({ length: HELD_REQUESTS }, (_, n) => startHeldRequest(router.url, burnRatePayload({ slo: null, count: 2, seed: `held${n}` })));
    await Promise.all(held.map((request) => request.reading));
    const busy = await eventually(
      async () => {
        const active = await queues.active();
        return Object.entries(active).some(([name, ids]) => name.startsWith('sync-') && ids.length > 0) ? active : undefined;
      },
      30_000,
      'deliveries in flight',
    );

    router.child.kill('SIGTERM');
    const terminatedAt = Date.now();
    // The listener is closed while the held requests are still being read; then their bodies arrive.
    await eventually(() => refusesConnections(port), 30_000, 'the router to stop accepting connections');
    for (const request of held) request.finish();
    await stream.stop();
    const exitCode = await exited(router.child);
    const exitedAt = Date.now();
    const heldOutcomes = await Promise.all(held.map((request) => request.outcome));

    const activeAfterExit = Object.values(await queues.active()).flat().length;
    const jobsInFlight = Object.entries(busy).flatMap(([name, ids]) => ids.map((id) => [name, id] as const));
    const states = await Promise.all(jobsInFlight.map(([name, id]) => queues.state(name, id)));
    const streamInFlight = stream.results.filter((r) => r.startedAt < terminatedAt && r.endedAt > terminatedAt);

    // The next router takes over whatever was still waiting.
    routers.push(await startReadyRouter(env));
    const accepted = [
      ...stream.results.filter((r) => r.outcome === 202).map((r) => r.payload),
      ...held.filter((_, i) => heldOutcomes[i] === 202).map((request) => request.payload),
    ];
    const expected = expectedNotifications(accepted);
    await allDelivered(peers, expected, 120_000);
    await eventually(() => queues.idle(), 60_000, 'every queue to drain');
    const counts = tally(peers, expected);
    reportFigures('router-sigterm', {
      webhooksSent: stream.results.length + held.length,
      answers: outcomesOf(stream.results),
      heldRequestsAnswered: heldOutcomes,
      streamRequestsInFlightAtSigterm: outcomesOf(streamInFlight),
      streamRequestsStartedAfterSigterm: outcomesOf(stream.results.filter((r) => r.startedAt >= terminatedAt)),
      jobsActiveAtSigterm: jobsInFlight.length,
      theirStatesAfterExit: countValues(states),
      activeJobsAfterExit: activeAfterExit,
      failedAttempts: failedAttempts(router.output()),
      exitCode,
      sigtermToExitMs: exitedAt - terminatedAt,
      alertsAccepted: accepted.length * 2,
      notificationsExpected: counts.expected,
      delivered: counts.delivered,
      resent: counts.resent,
      duplicates: counts.duplicates,
      lost: counts.lost,
      deliveredOfRequestsWithoutAnswer: counts.unexpected,
    });

    expect(exitCode).toBe(0);
    expect(heldOutcomes).toEqual(Array(HELD_REQUESTS).fill(202));
    // No HTTP error. A connection refused (listener closed) or reset (an idle keep-alive connection
    // closed under a request not yet read) is retried by Alertmanager; and none of those requests
    // had been stored, or its alerts would have been delivered: nothing was cut while being served.
    expect(Object.keys(outcomesOf(stream.results)).filter((outcome) => !['202', 'refused', 'reset'].includes(outcome))).toEqual([]);
    expect(counts.unexpectedKeys, 'alerts of requests that got no answer').toEqual([]);
    expect(jobsInFlight.length).toBeGreaterThan(0);
    expect(states).toEqual(Array(jobsInFlight.length).fill('completed'));
    expect(activeAfterExit).toBe(0);
    // What was in flight finished before the exit, so nothing went out twice.
    expect(counts).toMatchObject({ lost: 0, resent: 0, duplicates: 0 });
  }, 300_000);
});
