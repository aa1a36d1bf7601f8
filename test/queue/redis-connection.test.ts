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
    // Counts the socket's writes: held writes leave through _writev, all chunks at once.
    const socket = redis.stream;
    const writev = socket._writev!;
    const writes: number[] = [];
    socket._writev = (chunks, callback) => {
      writes.push(chunks.length);
      writev.call(socket, chunks, callback);
    };
    try {
      const replies = Promise.all([redis.set(key, '1'), redis.incr(key), redis.incrby(key, 5), redis.get(key)]);
      expect(redis.stream.writableCorked).toBe(1);
      expect(await replies).toEqual(['OK', 2, 7, '7']);
      expect(writes).toEqual([4]);
    } finally {
      socket._writev = writev;
    }
  });

  it('releases the hold at the end of the turn, and holds the next turn afresh', async () => {
    for (const value of ['a', 'b']) {
      const reply = redis.set(key, value);
      expect(redis.stream.writableCorked).toBe(1);
      await nextTurn();
      expect([redis.stream.writableCorked, redis.stream.writableLength]).toEqual([0, 0]);
      expect(await reply).toBe('OK');
    }
    expect(await redis.get(key)).toBe('b');
  });
});
