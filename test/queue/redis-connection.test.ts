import { randomUUID } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProducerConnection, createWorkerConnection } from '../../src/queue/redis.js';
import { eventually, REDIS_URL } from '../support/router.js';

describe.each([
  ['producer', createProducerConnection],
  ['worker', createWorkerConnection],
])('the %s connection', (_role, create) => {
  let redis: Redis;
  const key = `test-${randomUUID()}:turn`;

  beforeAll(async () => {
    redis = create(REDIS_URL);
    await eventually(() => redis.status === 'ready', 5_000, 'redis connection');
  });

  afterAll(async () => {
    await redis.del(key);
    redis.disconnect();
  });

  it("holds a turn's commands for one write, and each gets its own reply in order", async () => {
    const replies = Promise.all([redis.set(key, '1'), redis.incr(key), redis.incrby(key, 5), redis.get(key)]);
    expect(redis.stream.writableCorked).toBe(1);
    await nextTurn();
    expect(redis.stream.writableCorked).toBe(0);
    expect(await replies).toEqual(['OK', 2, 7, '7']);
  });

  it('holds no command beyond its turn', async () => {
    await redis.set(key, 'a');
    // Issued from a later turn (a reply's callback): its own hold, released at the end of that turn.
    expect(await redis.append(key, 'b')).toBe(2);
    await nextTurn();
    expect(redis.stream.writableCorked).toBe(0);
    expect(await redis.get(key)).toBe('ab');
  });
});
