import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisProcess, startRedisNode } from '../support/redis-ha.js';
import { eventually, startTestRouter, type TestRouter, testPrefix } from '../support/router.js';
import { reportFigures } from './harness.js';

const ADMIN_TOKEN = 'request-paths-admin-token-0001';
/** The admin endpoints that read Redis. */
const ADMIN_PATHS = ['/api/v1/alerts', '/api/v1/deliveries', '/api/v1/dead-letters', '/api/v1/incidents'];

interface Answer {
  status: number;
  ms: number;
  body: string;
}

async function get(url: string, token?: string): Promise<Answer> {
  const startedAt = Date.now();
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(10_000) });
  const body = await res.text();
  return { status: res.status, ms: Date.now() - startedAt, body };
}

/** Every request path while Redis cannot answer: /metrics within 1 s without the Redis figures, the admin API 503 in its error shape. */
async function expectAnswersWithoutRedis(router: TestRouter, figures: Record<string, unknown>, label: string) {
  const metrics = await get(`${router.url}/metrics`);
  const readyz = await get(`${router.url}/readyz`);
  const admin = await Promise.all(ADMIN_PATHS.map((path) => get(`${router.url}${path}`, ADMIN_TOKEN)));
  figures[label] = { metricsMs: metrics.ms, readyzMs: readyz.ms, adminMs: Math.max(...admin.map((a) => a.ms)), adminStatuses: admin.map((a) => a.status) };

  expect(metrics.status).toBe(200);
  expect(metrics.ms).toBeLessThan(1_000);
  expect(metrics.body).toContain('alertcenter_redis_figures_fresh 0');
  expect(metrics.body).not.toMatch(/^alertcenter_queue_depth\{/m);
  // The rest is there: the process's own figures and the router's counters.
  expect(metrics.body).toMatch(/^process_cpu_user_seconds_total /m);
  expect(metrics.body).toMatch(/^alertcenter_config_last_reload_successful 1$/m);
  expect(readyz.status).toBe(503);
  expect(readyz.ms).toBeLessThan(1_000);
  for (const answer of admin) {
    expect(answer.status).toBe(503);
    expect(answer.ms).toBeLessThan(1_500);
    expect(JSON.parse(answer.body)).toEqual({ error: { code: 'unavailable', message: expect.stringMatching(/Redis/) } });
  }
}

describe('request paths during a Redis outage', () => {
  let redis: { node: RedisProcess; url: string; close(): Promise<void> };
  let router: TestRouter;
  const figures: Record<string, unknown> = {};

  beforeAll(async () => {
    redis = await startRedisNode();
    router = await startTestRouter({ REDIS_URL: redis.url, REDIS_PREFIX: testPrefix(), ADMIN_TOKEN });
  });

  afterAll(async () => {
    reportFigures('redis-request-paths', figures);
    await router?.stop().catch(() => undefined);
    await redis?.close();
  });

  const healthy = async () => {
    const metrics = await get(`${router.url}/metrics`);
    return (
      metrics.body.includes('alertcenter_redis_figures_fresh 1') &&
      metrics.body.includes('alertcenter_queue_depth{') &&
      (await get(`${router.url}/api/v1/alerts`, ADMIN_TOKEN)).status === 200
    );
  };

  it('with Redis up: /metrics has the queue figures, the admin API answers', async () => {
    await eventually(healthy, 10_000, 'metrics with queue figures and the admin API');
  });

  it('with Redis stopped (refusing connections): /metrics answers within 1 s with the rest of its figures, the admin API 503', async () => {
    await redis.node.kill();
    await expectAnswersWithoutRedis(router, figures, 'stopped');
    await redis.node.up();
    await eventually(healthy, 15_000, 'the figures back once Redis is');
  });

  it('with Redis hung (SIGSTOP: connections open, no answer): the same, within the deadlines', async () => {
    redis.node.pause();
    try {
      await expectAnswersWithoutRedis(router, figures, 'hung');
    } finally {
      redis.node.resume();
    }
    await eventually(healthy, 15_000, 'the figures back once Redis answers again');
  });
});
