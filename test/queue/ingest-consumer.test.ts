import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { IngestConsumer, UnprocessableEntryError, type IngestConsumerOptions } from '../../src/queue/ingest-consumer.js';
import { fieldsOf, INGEST_GROUP, ingestCounts, ingestKeys, IngestProducer, type IngestEntry } from '../../src/queue/ingest.js';
import { createProducerConnection, createWorkerConnection } from '../../src/queue/redis.js';
import { OwnRedis } from '../support/processes.js';
import { cleanRedis, eventually, LogCapture, REDIS_URL, testPrefix } from '../support/router.js';

const opened: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const close of opened.splice(0).reverse()) await close();
});

async function setUp(redisUrl = REDIS_URL) {
  const prefix = testPrefix();
  const redis = createWorkerConnection(redisUrl);
  const producerConnection = createProducerConnection(redisUrl);
  // Some tests take their own Redis down on purpose (the router reports such outages through these events).
  for (const connection of [redis, producerConnection]) connection.on('error', () => {});
  await eventually(() => producerConnection.status === 'ready', 5_000, 'producer connection');
  opened.push(async () => {
    if (redisUrl === REDIS_URL) await cleanRedis(prefix);
    redis.disconnect();
    producerConnection.disconnect();
  });
  const producer = new IngestProducer(producerConnection, prefix);
  const logs = new LogCapture();
  const consumer = (handle: IngestConsumerOptions['handle'], options: Partial<IngestConsumerOptions> = {}) => {
    const started = new IngestConsumer({ redis, keys: ingestKeys(prefix), concurrency: 4, lockMs: 1_000, handle, logger: createLogger('info', logs), ...options });
    opened.push(() => started.close(true));
    return started;
  };
  const store = (n: number) => producer.enqueue(JSON.stringify({ n }), Date.now());
  return { prefix, redis, consumer, store, logs, keys: ingestKeys(prefix) };
}

const numberOf = (entry: IngestEntry) => (JSON.parse(entry.body) as { n: number }).n;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('IngestConsumer', () => {
  it('hands each stored webhook to one of three consumers, at most `concurrency` at a time each, and deletes it once handled', async () => {
    const { prefix, redis, consumer, store } = await setUp();
    const handled: Array<{ n: number; by: number; attempt: number }> = [];
    const running = [0, 0, 0];
    const mostRunning = [0, 0, 0];
    [0, 1, 2].forEach((by) =>
      consumer(async (entry, attempt) => {
        mostRunning[by] = Math.max(mostRunning[by]!, ++running[by]!);
        await sleep(Math.random() * 10);
        running[by]!--;
        handled.push({ n: numberOf(entry), by, attempt });
      }),
    );

    await Promise.all(Array.from({ length: 60 }, (_, n) => store(n)));
    await eventually(() => handled.length >= 60, 10_000, 'every webhook handled');
    await eventually(async () => (await ingestCounts(redis, prefix)).active === 0, 5_000, 'every webhook acknowledged');

    expect(handled.map(({ n }) => n).sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, n) => n));
    expect(handled.every(({ attempt }) => attempt === 1)).toBe(true);
    expect(new Set(handled.map(({ by }) => by)).size).toBeGreaterThan(1);
    expect(Math.max(...mostRunning)).toBeLessThanOrEqual(4);
    expect(await ingestCounts(redis, prefix)).toEqual({ waiting: 0, active: 0, failed: 0 });
  });

  it('retries a failed webhook once its backoff has passed, not before and not only after lockMs', async () => {
    const { prefix, redis, consumer, store, logs } = await setUp();
    const attempts: Array<{ attempt: number; at: number }> = [];
    consumer(
      async (_entry, attempt) => {
        attempts.push({ attempt, at: Date.now() });
        if (attempt === 1) throw new Error('Redis said no');
      },
      { lockMs: 10_000, retry: { attempts: 5, firstDelayMs: 3_000 } },
    );

    await store(1);
    await eventually(async () => attempts.length === 2 && (await ingestCounts(redis, prefix)).active === 0, 10_000, 'the second attempt');

    expect(attempts.map(({ attempt }) => attempt)).toEqual([1, 2]);
    // The delay is 1.5-3 s (3 s with jitter), and a due retry is taken within a second.
    const gap = attempts[1]!.at - attempts[0]!.at;
    expect(gap).toBeGreaterThanOrEqual(1_400);
    expect(gap).toBeLessThan(6_000);
    expect(logs.text).toContain('webhook processing failed: will retry');
    expect(await ingestCounts(redis, prefix)).toEqual({ waiting: 0, active: 0, failed: 0 });
  });

  it('gives up on a webhook after its last attempt, and keeps it with the reason of the last failure', async () => {
    const { prefix, redis, consumer, store, keys } = await setUp();
    const attempts: number[] = [];
    consumer(
      async (_entry, attempt) => {
        attempts.push(attempt);
        throw new Error(`OOM command not allowed (${attempt})`);
      },
      { retry: { attempts: 3, firstDelayMs: 10 } },
    );

    await store(5);
    await eventually(async () => (await ingestCounts(redis, prefix)).failed === 1, 5_000, 'the webhook to be given up on');

    expect(attempts).toEqual([1, 2, 3]);
    expect(await ingestCounts(redis, prefix)).toEqual({ waiting: 0, active: 0, failed: 1 });
    const [failed] = await redis.xrange(keys.failed, '-', '+');
    expect(fieldsOf(failed![1])).toMatchObject({ reason: 'OOM command not allowed (3)', body: '{"n":5}' });
  });

  it('gives up on a webhook no attempt can process at once, and keeps it with the reason', async () => {
    const { prefix, redis, consumer, store, keys } = await setUp();
    let calls = 0;
    consumer(async () => {
      calls++;
      throw new UnprocessableEntryError('stored webhook no longer valid: alerts: expected array');
    });

    await store(7);
    await eventually(async () => (await ingestCounts(redis, prefix)).failed === 1, 5_000, 'the webhook to be given up on');

    expect(calls).toBe(1);
    expect(await ingestCounts(redis, prefix)).toEqual({ waiting: 0, active: 0, failed: 1 });
    const [failed] = await redis.xrange(keys.failed, '-', '+');
    expect(fieldsOf(failed![1])).toMatchObject({ reason: 'stored webhook no longer valid: alerts: expected array', body: '{"n":7}' });
  });

  it('takes over, as another attempt, a webhook whose consumer stopped (its process died) once it has been idle for lockMs', async () => {
    const { prefix, redis, consumer, store, keys } = await setUp();
    await redis.xgroup('CREATE', keys.stream, INGEST_GROUP, '0', 'MKSTREAM');
    await store(3);
    // A consumer reads the webhook, then its process dies: it stays pending in that consumer's name.
    await redis.xreadgroup('GROUP', INGEST_GROUP, 'departed', 'COUNT', 10, 'STREAMS', keys.stream, '>');
    const readAt = Date.now();
    const handled: Array<{ n: number; attempt: number; at: number }> = [];

    consumer(async (entry, attempt) => {
      handled.push({ n: numberOf(entry), attempt, at: Date.now() });
    });
    await eventually(() => handled.length > 0, 5_000, 'the takeover');
    await eventually(async () => (await ingestCounts(redis, prefix)).active === 0, 5_000, 'the webhook to be acknowledged');

    expect(handled).toEqual([{ n: 3, attempt: 2, at: expect.any(Number) }]);
    expect(handled[0]!.at - readAt).toBeGreaterThanOrEqual(1_000);
    expect(await ingestCounts(redis, prefix)).toEqual({ waiting: 0, active: 0, failed: 0 });
  });

  it('keeps a webhook it is still working on from being taken over, and its renewals count no attempt', async () => {
    const { redis, consumer, store, prefix } = await setUp();
    const seen: string[] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    consumer(async (_entry, attempt) => {
      seen.push(`slow ${attempt}`);
      if (attempt === 1) {
        await released;
        throw new Error('failed after a long while');
      }
    });
    await store(1);
    await eventually(() => seen.length === 1, 5_000, 'the slow consumer to start');
    consumer(async (_entry, attempt) => {
      seen.push(`other ${attempt}`);
    });

    // Three lock durations: without the slow consumer's renewals, the other would take it over after one.
    await sleep(3_000);
    expect(seen).toEqual(['slow 1']);
    release();
    await eventually(async () => seen.length === 2 && (await ingestCounts(redis, prefix)).active === 0, 5_000, 'the retry');

    expect(seen[1]).toMatch(/^(slow|other) 2$/);
  });

  it('recreates its group when the stream disappears (a Redis restarted without persistence)', async () => {
    const { redis, consumer, store, keys } = await setUp();
    const handled: number[] = [];
    consumer(async (entry) => {
      handled.push(numberOf(entry));
    });
    await store(1);
    await eventually(() => handled.length === 1, 5_000, 'the first webhook');

    await redis.del(keys.stream);
    await store(2);

    await eventually(() => handled.length === 2, 10_000, 'the webhook stored after the stream was lost');
    expect(handled).toEqual([1, 2]);
  });

  it('on close, finishes what it is working on and takes nothing new; close(force) does not wait', async () => {
    const { redis, consumer, store, prefix } = await setUp();
    const handled: number[] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const first = consumer(async (entry) => {
      await released;
      handled.push(numberOf(entry));
    }, { concurrency: 1 });
    await store(1);
    await eventually(async () => (await ingestCounts(redis, prefix)).active === 1, 5_000, 'the first webhook to be taken');

    let closed = false;
    const closing = first.close().then(() => (closed = true));
    await store(2);
    await sleep(200);
    expect(closed).toBe(false);
    release();
    await closing;

    expect(handled).toEqual([1]);
    expect(await ingestCounts(redis, prefix)).toEqual({ waiting: 1, active: 0, failed: 0 });

    const stuck = consumer(() => new Promise(() => {}));
    await eventually(async () => (await ingestCounts(redis, prefix)).active === 1, 5_000, 'the second webhook to be taken');
    await stuck.close(true);
  });
  it('stays within `concurrency` while it takes over a stopped consumer\'s webhooks and reads new ones', async () => {
    const { redis, consumer, store, keys, prefix } = await setUp();
    await redis.xgroup('CREATE', keys.stream, INGEST_GROUP, '0', 'MKSTREAM');
    await Promise.all(Array.from({ length: 5 }, (_, n) => store(n)));
    await redis.xreadgroup('GROUP', INGEST_GROUP, 'departed', 'COUNT', 10, 'STREAMS', keys.stream, '>');
    await Promise.all(Array.from({ length: 30 }, (_, n) => store(100 + n)));
    let running = 0;
    let mostRunning = 0;
    const handled: number[] = [];

    // Busy slots when the departed consumer's webhooks come due: a takeover then has one slot, not two.
    consumer(
      async (entry) => {
        mostRunning = Math.max(mostRunning, ++running);
        await sleep(100 + Math.random() * 200);
        running--;
        handled.push(numberOf(entry));
      },
      { concurrency: 2 },
    );
    await eventually(async () => handled.length === 35 && (await ingestCounts(redis, prefix)).active === 0, 30_000, 'every webhook handled');

    expect(mostRunning).toBe(2);
    expect(handled).toEqual(expect.arrayContaining([0, 4, 100, 129]));
  });

  it('frees the slot of a failed webhook while it waits for its retry', async () => {
    const { consumer, store } = await setUp();
    const seen: string[] = [];
    consumer(
      async (entry, attempt) => {
        seen.push(`${numberOf(entry)}#${attempt}`);
        if (numberOf(entry) === 1) throw new Error('fails every time');
      },
      { concurrency: 1, retry: { attempts: 20, firstDelayMs: 60_000 } },
    );

    await store(1);
    await eventually(() => seen.length === 1, 5_000, 'the first attempt');
    await store(2);

    await eventually(() => seen.includes('2#1'), 5_000, 'the next webhook, while the first waits for its retry');
    expect(seen).toEqual(['1#1', '2#1']);
  });

  it('counts the attempts of a webhook whose every worker stops while processing it, and gives it up after the last', async () => {
    const { redis, consumer, store, keys, prefix } = await setUp();
    const attempts: number[] = [];
    const retry = { attempts: 3, firstDelayMs: 10 };
    await store(9);

    // Each consumer hangs on the webhook, then its process "dies" (closed without waiting, no more renewals).
    for (let n = 1; n <= 3; n++) {
      const stopping = consumer(
        async (_entry, attempt) => {
          attempts.push(attempt);
          await new Promise(() => {});
        },
        { retry },
      );
      await eventually(() => attempts.length === n, 10_000, `attempt ${n}`);
      await stopping.close(true);
    }
    consumer(async (_entry, attempt) => void attempts.push(attempt), { retry });

    await eventually(async () => (await ingestCounts(redis, prefix)).failed === 1, 10_000, 'the webhook to be given up on');
    expect(attempts).toEqual([1, 2, 3]);
    const [failed] = await redis.xrange(keys.failed, '-', '+');
    expect(fieldsOf(failed![1])).toMatchObject({ reason: expect.stringContaining('no attempt of 3 succeeded'), body: '{"n":9}' });
  });

  it('forgets consumers whose process stopped with nothing pending, and keeps those still running', async () => {
    const { redis, consumer, store, keys } = await setUp();
    await redis.xgroup('CREATE', keys.stream, INGEST_GROUP, '0', 'MKSTREAM');
    await redis.xgroup('CREATECONSUMER', keys.stream, INGEST_GROUP, 'stopped-long-ago');
    const handledBy = new Set<number>();
    // Redis lists a consumer once it has been handed an entry: each of the two gets some.
    const running = [0, 1].map((n) =>
      consumer(
        async () => {
          handledBy.add(n);
          await sleep(100);
        },
        { concurrency: 1 },
      ),
    );
    const names = async () => ((await redis.call('XINFO', 'CONSUMERS', keys.stream, INGEST_GROUP)) as unknown[][]).map((c) => String(fieldsOf(c).name)).sort();
    await Promise.all([1, 2, 3, 4].map((n) => store(n)));
    await eventually(() => handledBy.size === 2, 5_000, 'both consumers to take a webhook');

    await eventually(async () => !(await names()).includes('stopped-long-ago'), 10_000, 'the stopped consumer to be forgotten');
    await sleep(1_500); // another round of checks
    expect(await names()).toEqual(running.map((c) => c.name).sort());

    await running[0]!.close();
    expect(await names()).toEqual([running[1]!.name]);
  });

  it('closes without waiting for Redis when it goes away under the webhooks being processed', async () => {
    const own = await OwnRedis.start();
    opened.push(() => own.down());
    const { consumer, store } = await setUp(own.url);
    let started = 0;
    const closing = consumer(async () => {
      started++;
      await new Promise(() => {});
    });
    await store(1);
    await eventually(() => started === 1, 5_000, 'the webhook to be taken');

    await own.down();
    const closed = await Promise.race([closing.close().then(() => 'closed'), sleep(8_000).then(() => 'still waiting')]);

    expect(closed).toBe('closed');
  });
  it('never takes over its own webhook while processing it, when Redis refuses writes (maxmemory) or goes away for longer than lockMs', async () => {
    const own = await OwnRedis.start();
    opened.push(() => own.down());
    const { consumer, store, prefix } = await setUp(own.url);
    const admin = createWorkerConnection(own.url);
    admin.on('error', () => {}); // the test takes Redis down on purpose
    opened.push(() => admin.disconnect());
    const seen: number[] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    consumer(async (_entry, attempt) => {
      seen.push(attempt);
      await released;
    });
    await store(1);
    await eventually(() => seen.length === 1, 5_000, 'the webhook to be taken');

    await admin.config('SET', 'maxmemory', '1');
    await sleep(2_500);
    await admin.config('SET', 'maxmemory', '0');
    await own.down();
    await sleep(1_500);
    await own.up();
    await sleep(2_500);
    expect(seen).toEqual([1]);

    release();
    await eventually(async () => (await ingestCounts(admin, prefix)).active === 0, 10_000, 'the webhook to be acknowledged');
    expect(seen).toEqual([1]);
  });

  it('closes at once when forced, and within lockMs otherwise, when Redis stops answering', async () => {
    const own = await OwnRedis.start();
    opened.push(() => own.down());
    const { consumer, store } = await setUp(own.url);
    const admin = createWorkerConnection(own.url);
    admin.on('error', () => {}); // the test takes Redis down on purpose
    opened.push(() => admin.disconnect());
    let started = 0;
    const handle = async () => {
      started++;
      await new Promise(() => {});
    };
    const [forced, waiting] = [consumer(handle), consumer(handle)];
    await Promise.all([1, 2].map((n) => store(n)));
    await eventually(() => started === 2, 5_000, 'both webhooks to be taken');

    // Every command waits, renewals included: as a Redis that hangs, or a silent network partition.
    await admin.call('CLIENT', 'PAUSE', '8000', 'ALL');
    await sleep(600); // a renewal round (lockMs/2) is now stuck in flight
    const timed = (closing: Promise<void>) => {
      const started = Date.now();
      return closing.then(() => Date.now() - started);
    };
    const [forcedMs, waitingMs] = await Promise.all([timed(forced.close(true)), timed(waiting.close())]);

    expect(forcedMs).toBeLessThan(500);
    expect(waitingMs).toBeLessThan(2_000);
  });
});
