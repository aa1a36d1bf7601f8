import { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChannelPeers, startChannelPeers } from '../peers/channel-peers.js';
import { burnRatePayload } from '../support/payloads.js';
import { cleanRedis, eventually, ingestCounts, REDIS_URL, startTestRouter, type TestRouter, testPrefix, unprocessedWebhooks } from '../support/router.js';

const WEBHOOK = '/api/v1/webhooks/alertmanager';

/** ROLE=api and ROLE=worker split one router into two processes that meet only in Redis. */
describe('api and worker roles', () => {
  const prefix = testPrefix();
  let peers: ChannelPeers;
  let api: TestRouter;
  let worker: TestRouter | undefined;
  let redis: Redis;

  beforeAll(async () => {
    peers = await startChannelPeers();
    api = await startTestRouter({ ...peers.env, REDIS_PREFIX: prefix, ROLE: 'api' });
    redis = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    await Promise.all([api.stop(), worker?.stop()]);
    redis.disconnect();
    await Promise.all([peers.close(), cleanRedis(prefix)]);
  });

  it('an api accepts webhooks into Redis and delivers nothing itself; a worker delivers them', async () => {
    const payload = burnRatePayload({ severity: 'critical', seed: 'role1' });
    const res = await request(api.server).post(WEBHOOK).send(payload);
    expect(res.status).toBe(202);
    // No worker in the api process: the webhook waits in the queue, and nothing reaches a channel.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await ingestCounts(redis, prefix, ['waiting', 'active', 'failed'])).toEqual({ waiting: 1, active: 0, failed: 0 });
    expect(peers.pagerduty.received).toHaveLength(0);

    worker = await startTestRouter({ ...peers.env, REDIS_PREFIX: prefix, ROLE: 'worker' });
    const trigger = await eventually(() => peers.pagerduty.received.find((r) => r.event.event_action === 'trigger'), 10_000, 'trigger');
    expect(trigger.event.payload.custom_details.Labels.instance).toBe(payload.alerts[0].labels.instance);
    await eventually(async () => (await unprocessedWebhooks(redis, prefix)) === 0, 10_000, 'the webhook to be processed');

    // The api answers for the alert the worker recorded.
    const alerts = await request(api.server).get('/api/v1/alerts');
    expect(alerts.status).toBe(200);
    expect(JSON.stringify(alerts.body)).toContain(payload.alerts[0].fingerprint);
  });

  it('a worker serves health and metrics only', async () => {
    worker ??= await startTestRouter({ ...peers.env, REDIS_PREFIX: prefix, ROLE: 'worker' });
    expect((await request(worker.server).get('/readyz')).status).toBe(200);
    const metrics = await request(worker.server).get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('alertcenter_notifications_sent_total{receiver="oncall-pagerduty",channel="pagerduty"} 1');
    for (const [method, path] of [
      ['post', WEBHOOK],
      ['get', '/api/v1/alerts'],
      ['get', '/api/v1/routing'],
      ['get', '/api/v1/deliveries/failed'],
    ] as const) {
      const res = await request(worker.server)[method](path);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
  });
});
