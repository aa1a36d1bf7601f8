import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SlackCall, SlackPeerBehavior } from '../peers/slack-peer.js';
import { burnRatePayload } from '../support/payloads.js';
import type { Arrival } from '../support/peer-script.js';
import { OwnRedis, type RouterProcess } from '../support/processes.js';
import { eventually, testPrefix } from '../support/router.js';
import {
  allDelivered,
  expectedNotifications,
  type FaultPeers,
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

const RETRY_AFTER_SECONDS = 2;
const RETRY_AFTER_MS = RETRY_AFTER_SECONDS * 1000;
/** Redis and Node read the same clock, but timers may fire a little early. */
const CLOCK_TOLERANCE_MS = 50;
/** Few slots, so a channel that keeps going during a pause stands out (see requestsDuringPause). */
const CONCURRENCY = 4;
const SERVER_ERRORS = 10;

/** Slack: 429 with Retry-After until the test says otherwise, then SERVER_ERRORS answers of 503, then fine. */
function slackScript() {
  let phase: 'throttled' | 'failing' | 'ok' = 'throttled';
  let errorsLeft = SERVER_ERRORS;
  return {
    get phase() {
      return phase;
    },
    endThrottle: () => (phase = 'failing'),
    behavior: (): SlackPeerBehavior => {
      if (phase === 'throttled') return { kind: 'rate_limited', retryAfterSeconds: RETRY_AFTER_SECONDS };
      if (phase === 'ok') return { kind: 'ok' };
      if (--errorsLeft === 0) phase = 'ok';
      return { kind: 'http_error', status: 503 };
    },
  };
}

type SlackArrival = Arrival<SlackCall, SlackPeerBehavior>;
const throttled = (call: SlackArrival) => call.behavior.kind === 'rate_limited';

/** For each alert, the time from a 429 to that alert's next request. */
function gapsAfter429PerAlert(calls: SlackArrival[]): number[] {
  const byAlert = new Map<string, SlackArrival[]>();
  for (const call of calls) {
    const instance = instanceIn(call.record.args) ?? '';
    byAlert.set(instance, [...(byAlert.get(instance) ?? []), call]);
  }
  return [...byAlert.values()].flatMap((alertCalls) =>
    alertCalls.slice(0, -1).flatMap((call, i) => (throttled(call) ? [alertCalls[i + 1]!.at - call.at] : [])),
  );
}

/**
 * For each 429, how many other requests reached Slack before its Retry-After ran out. Only jobs
 * already started when the router learned of the 429 may: at most one per other worker slot.
 */
function requestsDuringPause(calls: SlackArrival[]): number[] {
  return calls
    .filter(throttled)
    .map((limit) => calls.filter((call) => call !== limit && call.at > limit.at && call.at < limit.at + RETRY_AFTER_MS - CLOCK_TOLERANCE_MS).length);
}

describe('fault: a peer throttles (429 + Retry-After), then fails (5xx), then recovers', () => {
  const prefix = testPrefix();
  const script = slackScript();
  let redis: OwnRedis;
  let peers: FaultPeers;
  let router: RouterProcess | undefined;
  let queues: QueueInspector;

  beforeAll(async () => {
    [redis, peers] = await Promise.all([OwnRedis.start(), startFaultPeers({ slack: script.behavior })]);
    // More attempts than 503s: the 5xx phase must not dead-letter anything.
    router = await startReadyRouter(routerEnv(peers, redis.url, prefix, { DELIVERY_ATTEMPTS: '20', DELIVERY_CONCURRENCY: String(CONCURRENCY) }));
    queues = new QueueInspector(redis.url, prefix);
  });

  afterAll(async () => {
    await killIfRunning(router?.child);
    await queues?.close();
    await Promise.all([redis?.down(), peers?.close()]);
  });

  it('delivers every notification once, honours Retry-After, and never holds a page behind a throttled Slack', async () => {
    const url = router!.url;
    const warnings = Array.from({ length: 20 }, (_, n) => burnRatePayload({ slo: null, count: 2, severity: 'warning', seed: `t${n}` }));
    const pages = Array.from({ length: 10 }, (_, n) => burnRatePayload({ slo: null, count: 2, severity: 'critical', seed: `p${n}` }));
    const answers = await Promise.all(warnings.map((payload) => postWebhook(url, payload)));
    await eventually(() => peers.slackCalls.some(throttled), 30_000, 'Slack to answer 429');

    // Pages and mails flow while Slack stays throttled: it is not released before they all arrived.
    answers.push(...(await Promise.all(pages.map((payload) => postWebhook(url, payload)))));
    const accepted = answers.filter((answer) => answer.outcome === 202).map((answer) => answer.payload);
    const expected = expectedNotifications(accepted);
    const otherChannels = new Set([...expected].filter((key) => !key.startsWith('slack ')));
    await allDelivered(peers, otherChannels, 60_000);
    const slackDeliveredWhileOthersDone = tally(peers, expected).delivered - otherChannels.size;

    // At least two waves of 429s, a Retry-After apart, before Slack moves on to failing.
    const first429 = peers.slackCalls.find(throttled)!.at;
    await eventually(() => peers.slackCalls.some((call) => throttled(call) && call.at >= first429 + RETRY_AFTER_MS), 60_000, 'a second wave of 429s');
    script.endThrottle();

    await allDelivered(peers, expected, 120_000);
    await eventually(() => queues.idle(), 60_000, 'every queue to drain');
    const counts = tally(peers, expected);
    const gaps = gapsAfter429PerAlert(peers.slackCalls);
    const duringPause = requestsDuringPause(peers.slackCalls);
    const answered = (kind: string) => peers.slackCalls.filter((call) => call.behavior.kind === kind).length;
    reportFigures('peer-throttle', {
      webhooksSent: answers.length,
      answered202: accepted.length,
      alertsAccepted: accepted.length * 2,
      notificationsExpected: counts.expected,
      slackAnswered429: answered('rate_limited'),
      slackAnswered503: answered('http_error'),
      retryAfterMs: RETRY_AFTER_MS,
      shortestWaitAfter429Ms: Math.min(...gaps),
      mostSlackRequestsDuringOnePause: Math.max(...duringPause),
      pagesAndMailsDeliveredWhileSlackThrottled: otherChannels.size,
      slackDeliveredWhileThrottled: slackDeliveredWhileOthersDone,
      delivered: counts.delivered,
      resent: counts.resent,
      duplicates: counts.duplicates,
      lost: counts.lost,
      deadLetters: await queues.deadLetters(),
    });

    expect(accepted).toHaveLength(warnings.length + pages.length);
    expect(slackDeliveredWhileOthersDone).toBe(0);
    expect(answered('http_error')).toBe(SERVER_ERRORS);
    expect(Math.min(...gaps), 'an alert retried before its Retry-After ran out').toBeGreaterThanOrEqual(RETRY_AFTER_MS - CLOCK_TOLERANCE_MS);
    expect(Math.max(...duringPause), 'Slack requests started while the channel was paused').toBeLessThanOrEqual(CONCURRENCY - 1);
    expect(counts).toMatchObject({ lost: 0, resent: 0, duplicates: 0, unexpected: 0 });
    expect(await queues.deadLetters()).toBe(0);
  }, 300_000);
});
