import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startChannelPeers, type ChannelPeers } from '../peers/channel-peers.js';
import type { PagerDutyPeer } from '../peers/pagerduty-peer.js';
import type { SlackPeer } from '../peers/slack-peer.js';
import type { SmtpPeer } from '../peers/smtp-peer.js';
import { burnRatePayload } from '../support/payloads.js';
import { cleanRedis, eventually, startTestRouter, type TestRouter } from '../support/router.js';

const WEBHOOK = '/api/v1/webhooks/alertmanager';

/** The whole pipeline in one process: webhook -> Redis -> routing -> delivery queues -> real peers. */
describe('delivery through the queues to the channel peers', () => {
  let peers: ChannelPeers;
  let slack: SlackPeer;
  let smtp: SmtpPeer;
  let pagerduty: PagerDutyPeer;
  let router: TestRouter;
  let seed = 0;

  beforeAll(async () => {
    peers = await startChannelPeers();
    ({ slack, smtp, pagerduty } = peers);
    router = await startTestRouter({
      ...peers.env,
      DELIVERY_ATTEMPTS: '4',
      DELIVERY_BACKOFF: '200ms',
      DELIVERY_TIMEOUT: '2s',
    });
  });

  afterEach(() => {
    slack.setBehavior({ kind: 'ok' });
    pagerduty.setBehavior({ kind: 'ok' });
  });

  afterAll(async () => {
    await router.stop();
    await Promise.all([peers.close(), cleanRedis(router.prefix)]);
  });

  const send = async (payload: object) => {
    const res = await request(router.server).post(WEBHOOK).send(payload);
    expect(res.status).toBe(202);
  };
  const nextSeed = () => `f${(seed++).toString(16)}`;
  /** burnRatePayload gives each alert an `instance` label that shows in every rendered message. */
  const markerOf = (payload: any) => `instance=${payload.alerts[0].labels.instance}`;
  const slackPostsFor = (marker: string) =>
    slack.received.filter((call) => call.method === 'chat.postMessage' && JSON.stringify(call.args).includes(marker));
  const slackHas = (marker: string) => [...slack.messages.values()].filter((m) => JSON.stringify(m).includes(marker));

  it('pages PagerDuty for a critical alert and resolves the same incident', async () => {
    const firing = burnRatePayload({ severity: 'critical', seed: nextSeed() });
    await send(firing);
    const trigger = await eventually(() => pagerduty.received.find((r) => r.event.event_action === 'trigger' && r.event.payload.summary.includes('api-latency')), 10_000, 'trigger');
    expect(trigger.tlsProtocol).toMatch(/^TLSv1\.[23]$/);
    expect(trigger.event.payload.severity).toBe('critical');

    await send(burnRatePayload({ severity: 'critical', seed: firing.alerts[0].labels.instance.split('-')[0], status: 'resolved' }));
    const resolve = await eventually(() => pagerduty.received.find((r) => r.event.event_action === 'resolve'), 10_000, 'resolve');
    expect(resolve.event.dedup_key).toBe(trigger.event.dedup_key);
    expect(pagerduty.incidents.get(trigger.event.dedup_key)?.status).toBe('resolved');
    // Critical alerts go to PagerDuty only (shipped routing).
    expect(smtp.received.some((mail) => mail.parsed.subject?.includes('CRITICAL'))).toBe(false);
  });

  it('sends a warning to Slack and email, then updates the Slack message and threads the email on resolve', async () => {
    const s = nextSeed();
    await send(burnRatePayload({ severity: 'warning', seed: s }));
    await eventually(() => smtp.received.length >= 1 && slack.messages.size >= 1, 10_000, 'firing notifications');
    const [firingMail] = smtp.received.filter((m) => m.parsed.subject?.startsWith('[WARNING]'));
    expect(firingMail?.parsed.subject).toContain('api-latency');

    await send(burnRatePayload({ severity: 'warning', seed: s, status: 'resolved' }));
    const resolvedMail = await eventually(() => smtp.received.find((m) => m.parsed.subject?.startsWith('[RESOLVED]')), 10_000, 'resolved mail');
    expect(resolvedMail.parsed.inReplyTo).toBe(firingMail!.parsed.messageId);
    const original = await eventually(() => [...slack.messages.values()].find((m) => m.updates === 1), 10_000, 'chat.update');
    await eventually(() => [...slack.messages.values()].find((m) => m.thread_ts === original.ts), 10_000, 'thread reply');
    expect(pagerduty.received.filter((r) => JSON.stringify(r.event).includes(`${s}000`))).toEqual([]);
  });

  it('retries a 5xx and delivers exactly once', async () => {
    const payload = burnRatePayload({ severity: 'warning', seed: nextSeed() });
    const marker = markerOf(payload);
    slack.setBehavior({ kind: 'http_error', status: 503 }, 2);
    await send(payload);
    await eventually(() => slackHas(marker).length > 0, 15_000, "delivery after retries");
    expect(slackPostsFor(marker)).toHaveLength(3); // two 503s, one success
    expect(slackHas(marker)).toHaveLength(1);
  });

  it('honours Retry-After on a 429 without using up an attempt, and never delays pages', async () => {
    const warning = burnRatePayload({ severity: 'warning', seed: nextSeed() });
    const marker = markerOf(warning);
    slack.setBehavior({ kind: 'rate_limited', retryAfterSeconds: 2 }, 6);
    await send(warning);
    await eventually(() => slackPostsFor(marker).length >= 1, 10_000, 'the rate-limited call');
    const throttledAt = Date.now();

    // While Slack is paused, a page goes straight through its own queue.
    const page = burnRatePayload({ severity: 'critical', seed: nextSeed() });
    await send(page);
    await eventually(() => pagerduty.received.find((r) => JSON.stringify(r.event).includes(markerOf(page).split('=')[1]!)), 10_000, 'the page');
    expect(slackPostsFor(marker)).toHaveLength(1);

    // 6 answers of 429 against 4 attempts: delivered all the same, so 429s used no attempt.
    await eventually(() => slackHas(marker).length > 0, 25_000, 'delivery after the pauses');
    expect(slackPostsFor(marker)).toHaveLength(7);
    // Each 429 paused the channel for its Retry-After: 6 pauses of 2 s.
    expect(Date.now() - throttledAt).toBeGreaterThanOrEqual(5 * 2_000);
  });

  it('dead-letters a permanent error at once, lists it, and re-drives it', async () => {
    const payload = burnRatePayload({ severity: 'warning', seed: nextSeed() });
    const marker = markerOf(payload);
    slack.setBehavior({ kind: 'slack_error', error: 'channel_not_found' }, 1);
    await send(payload);

    const failed = await eventually(async () => {
      const res = await request(router.server).get('/api/v1/deliveries/failed');
      return res.body.failed.find((f: any) => f.alert.fingerprint === payload.alerts[0].fingerprint);
    }, 10_000, 'the dead letter');
    expect(failed).toMatchObject({ receiver: 'ops-slack', attempts: 1, alert: { status: 'firing', severity: 'warning' } });
    expect(failed.reason).toContain('not_found');
    expect(slackPostsFor(marker)).toHaveLength(1);

    const retried = await request(router.server).post(`/api/v1/deliveries/failed/${failed.id}/retry`);
    expect(retried.status).toBe(202);
    await eventually(() => slackHas(marker).length > 0, 10_000, 're-driven delivery');
    const missing = await request(router.server).post('/api/v1/deliveries/failed/no-such-job/retry');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
  });

  it('a dead letter does not block a later copy of the same notification', async () => {
    const payload = burnRatePayload({ severity: 'critical', seed: nextSeed() });
    const marker = markerOf(payload);
    pagerduty.setBehavior({ kind: 'http_error', status: 400 }, 1);
    await send(payload);
    await eventually(async () => {
      const res = await request(router.server).get('/api/v1/deliveries/failed');
      return res.body.failed.some((f: any) => f.alert.fingerprint === payload.alerts[0].fingerprint);
    }, 10_000, 'the dead letter');
    await send(payload); // Alertmanager's next repeat of the same notification
    const attempts = () => pagerduty.received.filter((r) => JSON.stringify(r.event).includes(marker.split('=')[1]!));
    await eventually(() => attempts().length === 2, 10_000, 'second attempt');
    expect(attempts().map((r) => r.event.event_action)).toEqual(['trigger', 'trigger']);
  });

  it('exposes delivery metrics by receiver and reason', async () => {
    const text = (await request(router.server).get('/metrics')).text;
    expect(text).toMatch(/alertcenter_notifications_sent_total\{receiver="oncall-pagerduty",channel="pagerduty"\} [1-9]/);
    expect(text).toMatch(/alertcenter_notifications_failed_total\{receiver="ops-slack",reason="rate_limited"\} 6/);
    expect(text).toMatch(/alertcenter_delivery_latency_seconds_count\{receiver="ops-slack",channel="slack"\} [1-9]/);
  });
});
