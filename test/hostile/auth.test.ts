import * as crypto from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { burnRatePayload } from '../support/payloads.js';
import { cleanRedis, startTestRouter, type TestRouter } from '../support/router.js';
import { printFigures } from './figures.js';

/**
 * The router's own modules see a timingSafeEqual that records its calls (and still compares).
 * Timing itself is not measured: on a shared machine the noise is far above the nanoseconds a
 * comparison could leak, so a bound loose enough never to flake would prove nothing. What makes a
 * comparison constant-time is its code path, and that is deterministic: every configured token is
 * compared, always through timingSafeEqual over two SHA-256 digests of equal length, whatever was
 * presented (nothing, a prefix, the right length, the right token).
 */
vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>();
  return { ...original, timingSafeEqual: vi.fn(original.timingSafeEqual) };
});
const timingSafeEqual = vi.mocked(crypto.timingSafeEqual);

const WEBHOOK_TOKENS = ['webhook-token-alpha-0123456789', 'webhook-token-rotated-987654321'];
const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
const WEBHOOK = '/api/v1/webhooks/alertmanager';
const basic = (user: string, password?: string) => `Basic ${Buffer.from(password === undefined ? user : `${user}:${password}`).toString('base64')}`;
const sha256 = (text: string) => crypto.createHash('sha256').update(text).digest();

/** Credentials that must never pass, for any realm. */
const ALWAYS_REFUSED: Array<[string, string | undefined]> = [
  ['no Authorization header', undefined],
  ['an empty header', ''],
  ['a wrong token', 'Bearer wrong'],
  ['a wrong token of the right length', `Bearer ${'x'.repeat(WEBHOOK_TOKENS[0]!.length)}`],
  ['a prefix of the token', `Bearer ${WEBHOOK_TOKENS[0]!.slice(0, -1)}`],
  ['the token with a suffix', `Bearer ${WEBHOOK_TOKENS[0]}x`],
  ['the token in upper case', `Bearer ${WEBHOOK_TOKENS[0]!.toUpperCase()}`],
  ['an empty Bearer', 'Bearer '],
  ['Bearer without a space', 'Bearer'],
  ['the token without a scheme', WEBHOOK_TOKENS[0]],
  ['an unknown scheme', `Token ${WEBHOOK_TOKENS[0]}`],
  ['two tokens in one header', `Bearer ${WEBHOOK_TOKENS[0]} ${WEBHOOK_TOKENS[1]}`],
  ['basic auth with a wrong password', basic('alertmanager', 'nope')],
  ['basic auth with the token as user name', basic(WEBHOOK_TOKENS[0]!, '')],
  ['basic auth without a colon', basic(WEBHOOK_TOKENS[0]!)],
  ['basic auth with an empty password', basic('alertmanager', '')],
  ['basic auth that is not base64', 'Basic !!!not-base64!!!'],
  ['an empty Basic', 'Basic '],
];

const ADMIN_ENDPOINTS: Array<[method: 'get' | 'post', path: string]> = [
  ['get', '/api/v1/routing'],
  ['post', '/api/v1/routing/test'],
  ['get', '/api/v1/alerts'],
  ['get', '/api/v1/alerts/0123456789abcdef'],
  ['get', '/api/v1/deliveries'],
  ['get', '/api/v1/deliveries/failed'],
  ['post', '/api/v1/deliveries/failed/no-such-job/retry'],
  ['get', '/api/v1/dead-letters'],
  ['post', '/api/v1/dead-letters/ingest/no-such-job/retry'],
];

describe('authentication of the webhook and the admin API', () => {
  let router: TestRouter;
  const counts = { refused: 0, accepted: 0, comparisons: 0 };

  beforeAll(async () => {
    router = await startTestRouter({ WEBHOOK_TOKENS: WEBHOOK_TOKENS.join(','), ADMIN_TOKEN });
  });

  afterAll(async () => {
    printFigures('auth', counts);
    await router?.stop();
    if (router) await cleanRedis(router.prefix);
  });

  beforeEach(() => {
    timingSafeEqual.mockClear();
  });

  const call = (method: 'get' | 'post', path: string, authorization: string | undefined) => {
    const req = request(router.server)[method](path);
    if (authorization !== undefined) req.set('Authorization', authorization);
    return method === 'post' ? req.send(path === WEBHOOK ? burnRatePayload({ seed: 'auth' }) : { labels: { severity: 'critical' } }) : req;
  };

  /** The comparison made for one request: one call per configured token, over two 32-byte digests. */
  function expectConstantTimeComparison(configured: string[]) {
    const calls = timingSafeEqual.mock.calls as Array<[Buffer, Buffer]>;
    expect(calls).toHaveLength(configured.length);
    for (const [expected, presented] of calls) {
      expect([expected.length, presented.length]).toEqual([32, 32]);
    }
    expect(calls.map(([expected]) => expected.toString('hex')).sort()).toEqual(configured.map((token) => sha256(token).toString('hex')).sort());
    counts.comparisons += calls.length;
    timingSafeEqual.mockClear();
  }

  const webhookRefusals: Array<[string, string | undefined]> = [
    ...ALWAYS_REFUSED,
    ['the admin token', `Bearer ${ADMIN_TOKEN}`],
    ['the admin token by basic auth', basic('am', ADMIN_TOKEN)],
  ];
  it.each(webhookRefusals)('the webhook refuses %s with 401, comparing every token in constant time', async (_name, authorization) => {
    const res = await call('post', WEBHOOK, authorization);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: { code: 'unauthorized', message: 'missing or invalid webhook credentials' } });
    expectConstantTimeComparison(WEBHOOK_TOKENS);
    counts.refused += 1;
  });

  it.each([
    ['the first token', `Bearer ${WEBHOOK_TOKENS[0]}`],
    ['the rotated token', `Bearer ${WEBHOOK_TOKENS[1]}`],
    ['a lower-case scheme', `bearer ${WEBHOOK_TOKENS[0]}`],
    ['basic auth with the token as password', basic('alertmanager', WEBHOOK_TOKENS[1])],
  ])('the webhook takes %s, with the same comparisons', async (_name, authorization) => {
    const res = await call('post', WEBHOOK, authorization);
    expect(res.status).toBe(202);
    expectConstantTimeComparison(WEBHOOK_TOKENS);
    counts.accepted += 1;
  });

  const adminRefusals: Array<[string, string | undefined]> = [
    ...ALWAYS_REFUSED,
    ...WEBHOOK_TOKENS.map((token, i): [string, string] => [`webhook token ${i + 1}`, `Bearer ${token}`]),
    ['a webhook token by basic auth', basic('alertmanager', WEBHOOK_TOKENS[0])],
    ['an admin token of the right length', `Bearer ${'a'.repeat(ADMIN_TOKEN.length)}`],
  ];
  describe.each(ADMIN_ENDPOINTS)('%s %s', (method, path) => {
    it('refuses missing, wrong and webhook credentials with 401, comparing in constant time', async () => {
      for (const [name, authorization] of adminRefusals) {
        const res = await call(method, path, authorization);
        expect(res.status, name).toBe(401);
        expect(res.body, name).toEqual({ error: { code: 'unauthorized', message: 'missing or invalid admin credentials' } });
        expectConstantTimeComparison([ADMIN_TOKEN]);
        counts.refused += 1;
      }
    });

    it('answers the admin token (bearer or basic)', async () => {
      for (const authorization of [`Bearer ${ADMIN_TOKEN}`, basic('admin', ADMIN_TOKEN)]) {
        const res = await call(method, path, authorization);
        // 404 is the answer for the ids that do not exist, past authentication.
        expect(res.status, authorization).not.toBe(401);
        expect([200, 202, 404]).toContain(res.status);
        expectConstantTimeComparison([ADMIN_TOKEN]);
        counts.accepted += 1;
      }
    });
  });
});
