import { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { burnRatePayload } from '../support/payloads.js';
import { OwnRedis } from '../support/processes.js';
import { cleanRedis, REDIS_URL, startTestRouter, storedWebhooks, type TestRouter } from '../support/router.js';

const TOKEN = 'webhook-token-one';
const PATH = '/api/v1/webhooks/alertmanager';

describe('POST /api/v1/webhooks/alertmanager', () => {
  let router: TestRouter;
  let redis: Redis;
  const stored = async () => storedWebhooks(redis, router.prefix);

  beforeAll(async () => {
    // An api process: no worker takes the stored webhooks, so they stay in Redis for inspection.
    router = await startTestRouter({ ROLE: 'api', WEBHOOK_TOKENS: `${TOKEN}, rotated-token-two`, MAX_BODY_BYTES: '4096' });
    redis = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    await router.stop();
    await cleanRedis(router.prefix);
    redis.disconnect();
  });

  const post = () => request(router.server).post(PATH);

  it('answers 202 with the count, and the payload is really in Redis', async () => {
    const payload = burnRatePayload({ count: 3, seed: 'b' });
    const res = await post().set('Authorization', `Bearer ${TOKEN}`).send(payload);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ accepted: 3 });

    const webhook = (await stored()).find((entry) => entry.payload.alerts[0].fingerprint === payload.alerts[0].fingerprint);
    expect(webhook?.payload).toEqual(payload);
    expect(webhook?.acceptedAt).toBeGreaterThan(Date.now() - 60_000);
  });

  it('keeps fields it does not know (notification_reason, routeLabels)', async () => {
    const payload = { ...burnRatePayload({ seed: 'c' }), notification_reason: 'new_alerts', routeLabels: { team: 'sre' } };
    const res = await post().set('Authorization', `Bearer ${TOKEN}`).send(payload);
    expect(res.status).toBe(202);
    const webhook = (await stored()).find((entry) => entry.payload.alerts[0].fingerprint === payload.alerts[0].fingerprint);
    expect(webhook?.payload.notification_reason).toBe('new_alerts');
    expect(webhook?.payload.routeLabels).toEqual({ team: 'sre' });
  });

  it('stores each of many concurrent webhooks before its 202', async () => {
    // Webhooks arriving together leave for Redis in one write: each must still be answered for itself.
    const payloads = Array.from({ length: 40 }, (_, i) => burnRatePayload({ count: 2, seed: `many-${i}` }));
    const answers = await Promise.all(payloads.map((payload) => post().set('Authorization', `Bearer ${TOKEN}`).send(payload)));
    expect(answers.map((res) => res.status)).toEqual(payloads.map(() => 202));
    const fingerprints = new Set((await stored()).map((entry) => entry.payload.alerts[0].fingerprint));
    expect(payloads.filter((payload) => !fingerprints.has(payload.alerts[0].fingerprint))).toEqual([]);
  });

  it('accepts a rotated token and basic auth with the token as password', async () => {
    const bearer = await post()
      .set('Authorization', 'Bearer rotated-token-two')
      .send(burnRatePayload({ seed: 'd' }));
    expect(bearer.status).toBe(202);
    const basic = await post()
      .auth('alertmanager', TOKEN)
      .send(burnRatePayload({ seed: 'e' }));
    expect(basic.status).toBe(202);
  });

  it.each([
    ['no credentials', undefined],
    ['a wrong token', 'Bearer wrong-token-xxxxx'],
    ['a token of the right length', `Bearer ${'x'.repeat(TOKEN.length)}`],
    ['an empty bearer', 'Bearer '],
    ['an unknown scheme', `Token ${TOKEN}`],
    ['basic auth with a wrong password', `Basic ${Buffer.from('am:nope').toString('base64')}`],
  ])('refuses %s with 401 and a JSON error', async (_name, header) => {
    const req = post();
    if (header) req.set('Authorization', header);
    const res = await req.send(burnRatePayload());
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: { code: 'unauthorized', message: 'missing or invalid webhook credentials' } });
  });

  it('refuses invalid JSON with 400', async () => {
    const res = await post().set('Authorization', `Bearer ${TOKEN}`).set('Content-Type', 'application/json').send('{"alerts": [');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_json');
  });

  it('refuses a payload that fails the schema with 400 naming the field', async () => {
    const payload = burnRatePayload({ count: 4 });
    payload.alerts[3].labels = 'severity=critical';
    const res = await post().set('Authorization', `Bearer ${TOKEN}`).send(payload);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: 'invalid_payload', message: 'alerts[3].labels: expected object' } });
  });

  it('refuses a wrong content type with 415', async () => {
    const res = await post().set('Authorization', `Bearer ${TOKEN}`).set('Content-Type', 'text/plain').send(JSON.stringify(burnRatePayload()));
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('unsupported_media_type');
  });

  it('refuses a body over MAX_BODY_BYTES with 413', async () => {
    const res = await post()
      .set('Authorization', `Bearer ${TOKEN}`)
      .send(burnRatePayload({ count: 40 }));
    expect(res.status).toBe(413);
    expect(res.body.error).toEqual({ code: 'payload_too_large', message: 'body exceeds the limit of 4096 bytes (MAX_BODY_BYTES)' });
  });

  it('counts each rejection by reason', async () => {
    const res = await request(router.server).get('/metrics');
    for (const reason of ['unauthorized', 'invalid_json', 'invalid_payload', 'unsupported_media_type', 'payload_too_large']) {
      expect(res.text).toMatch(new RegExp(`alertcenter_webhook_rejections_total\\{reason="${reason}"\\} [1-9]`));
    }
  });
});

describe('the webhook when Redis refuses writes (maxmemory reached, noeviction)', () => {
  let redis: OwnRedis;
  let router: TestRouter;
  let admin: Redis;

  beforeAll(async () => {
    redis = await OwnRedis.start();
    router = await startTestRouter({ REDIS_URL: redis.url, ROLE: 'api' });
    admin = new Redis(redis.url);
  });

  afterAll(async () => {
    await router.stop();
    admin.disconnect();
    await redis.down();
  });

  it('answers 503 to every webhook sent together, and 202 again once Redis has room', async () => {
    const send = (seed: string) => request(router.server).post(PATH).send(burnRatePayload({ seed }));
    await admin.config('SET', 'maxmemory', '1');
    const refused = await Promise.all(Array.from({ length: 10 }, (_, i) => send(`full-${i}`)));
    expect(refused.map((res) => [res.status, res.body.error?.code])).toEqual(refused.map(() => [503, 'unavailable']));
    expect(refused[0]!.body.error.message).toMatch(/refusing writes/);
    expect(router.logs.text).toMatch(/OOM command not allowed/);

    await admin.config('SET', 'maxmemory', '0');
    const accepted = await Promise.all(Array.from({ length: 10 }, (_, i) => send(`room-${i}`)));
    expect(accepted.map((res) => res.status)).toEqual(accepted.map(() => 202));
    expect(await storedWebhooks(admin, router.prefix)).toHaveLength(10);
  });
});

describe('the webhook when Redis is unreachable', () => {
  it('answers 503 at once, so Alertmanager retries, and /readyz says not ready', async () => {
    const router = await startTestRouter({ REDIS_URL: 'redis://127.0.0.1:1' }, { waitReady: false });
    try {
      const res = await request(router.server).post(PATH).send(burnRatePayload());
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('unavailable');
      const ready = await request(router.server).get('/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body.checks.redis).toBe(false);
    } finally {
      await router.stop();
    }
  });
});
