import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryQueueName } from '../../src/queue/names.js';
import type { ChannelKind } from '../../src/notifiers/types.js';
import { burnRatePayload } from '../support/payloads.js';
import { cleanRedis, eventually, REDIS_URL, startTestRouter, testPrefix, unprocessedWebhooks, type TestRouter } from '../support/router.js';

const PATH = '/api/v1/webhooks/alertmanager';

/**
 * Three router replicas share one Redis and one prefix, as in production; Alertmanager copies
 * (repeats, an HA pair) arrive at all of them at once.
 */
describe('deduplication through the Redis queue', () => {
  const prefix = testPrefix();
  let replicas: TestRouter[];
  let redis: Redis;
  const queues = new Map<string, Queue>();

  beforeAll(async () => {
    replicas = await Promise.all([1, 2, 3].map(() => startTestRouter({ REDIS_PREFIX: prefix })));
    redis = new Redis(REDIS_URL);
    for (const name of (['slack', 'email', 'pagerduty'] as ChannelKind[]).map(deliveryQueueName)) {
      queues.set(name, new Queue(name, { connection: redis, prefix }));
    }
  });

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await Promise.all([...queues.values()].map((q) => q.close()));
    await cleanRedis(prefix);
    redis.disconnect();
  });

  /** Every delivery job ever created for `kind`, in any state. */
  async function deliveryJobs(kind: ChannelKind) {
    const queue = queues.get(deliveryQueueName(kind))!;
    return queue.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized']);
  }

  async function sendCopies(payload: object, copies: number) {
    const responses = await Promise.all(
      Array.from({ length: copies }, (_, i) => request(replicas[i % replicas.length]!.server).post(PATH).send(payload)),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(copies).fill(202));
    // All stored webhooks processed, by whichever replica took them.
    await eventually(async () => (await unprocessedWebhooks(redis, prefix)) === 0, 20_000, 'stored webhooks to be processed');
  }

  it('50 concurrent copies across 3 replicas yield one job per receiver; resolved yields a second', async () => {
    const firing = burnRatePayload({ severity: 'warning', seed: 'dd' });
    await sendCopies(firing, 50);
    // Shipped routing: warnings go to ops-email and ops-slack, and not to PagerDuty.
    expect((await deliveryJobs('email')).map((j) => j.data.receiver)).toEqual(['ops-email']);
    expect((await deliveryJobs('slack')).map((j) => j.data.receiver)).toEqual(['ops-slack']);
    expect(await deliveryJobs('pagerduty')).toEqual([]);

    const resolved = burnRatePayload({ severity: 'warning', seed: 'dd', status: 'resolved' });
    await sendCopies(resolved, 50);
    for (const kind of ['email', 'slack'] as const) {
      const jobs = await deliveryJobs(kind);
      expect(jobs.map((j) => j.data.alert.status).sort()).toEqual(['firing', 'resolved']);
    }
  });

  it('a re-fire (new startsAt) is a new notification', async () => {
    const first = burnRatePayload({ severity: 'critical', seed: 'ee' });
    await sendCopies(first, 5);
    const refire = burnRatePayload({ severity: 'critical', seed: 'ee' });
    refire.alerts[0].startsAt = '2026-11-27T20:00:00Z';
    await sendCopies(refire, 5);
    const jobs = (await deliveryJobs('pagerduty')).filter((j) => j.data.alert.fingerprint === first.alerts[0].fingerprint);
    expect(jobs.map((j) => j.data.alert.startsAt).sort()).toEqual(['2026-11-27T18:00:00Z', '2026-11-27T20:00:00Z']);
  });

  it('counts deduplicated notifications by receiver', async () => {
    const texts = await Promise.all(replicas.map(async (r) => (await request(r.server).get('/metrics')).text));
    const total = texts
      .flatMap((text) => [...text.matchAll(/alertcenter_notifications_deduplicated_total\{receiver="ops-slack"\} (\d+)/g)])
      .reduce((sum, m) => sum + Number(m[1]), 0);
    // 100 copies of two notifications for ops-slack: all but the two first are duplicates.
    expect(total).toBe(98);
  });
});
