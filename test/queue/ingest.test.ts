import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { type StoredWebhook, UnprocessableWebhookError } from '../../src/pipeline/process-webhook.js';
import { DeadLetters } from '../../src/queue/dead-letters.js';
import { IngestProducer, ingestDeadLetterSource } from '../../src/queue/ingest.js';
import { type IngestWorkerDeps, startIngestWorker } from '../../src/queue/ingest-worker.js';
import { createProducerConnection, createWorkerConnection } from '../../src/queue/redis.js';
import { cleanRedis, eventually, LogCapture, REDIS_URL, testPrefix, unprocessedWebhooks } from '../support/router.js';

const opened: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const close of opened.splice(0).reverse()) await close();
});

const LOCK_MS = 1_000;

async function setUp({ attempts = 3, backoffMs = 200 } = {}) {
  const prefix = testPrefix();
  const workerConnection = createWorkerConnection(REDIS_URL);
  const producerConnection = createProducerConnection(REDIS_URL);
  const admin = new Redis(REDIS_URL);
  await eventually(() => producerConnection.status === 'ready', 5_000, 'producer connection');
  const producer = new IngestProducer(producerConnection, prefix, { attempts, backoffMs });
  opened.push(async () => {
    await producer.close();
    await cleanRedis(prefix);
    for (const connection of [workerConnection, producerConnection, admin]) connection.disconnect();
  });
  const metrics = createMetrics();
  const logs = new LogCapture();
  const worker = (process: IngestWorkerDeps['process'], concurrency = 2) => {
    const started = startIngestWorker({
      connection: workerConnection,
      prefix,
      process,
      lockMs: LOCK_MS,
      concurrency,
      metrics,
      logger: createLogger('info', logs),
    });
    opened.push(() => started.close(true));
    return started;
  };
  const deadLetters = new DeadLetters([ingestDeadLetterSource(producer.queue)]);
  const deadLettersCounted = async () => (await metrics.deadLetters.get()).values.find((v) => v.labels.queue === 'ingest')?.value ?? 0;
  return { prefix, admin, producer, producerConnection, worker, deadLetters, deadLettersCounted, logs };
}

const body = (n: number) => `{"n": ${n},  "spacing": "kept as received"}`;

describe('the ingest queue', () => {
  it('stores one job per webhook, its body as received with its acceptedAt, and removes it once processed', async () => {
    const { prefix, admin, producer, worker } = await setUp();
    await producer.enqueue(body(1), 1_700_000_000_000);
    const [key] = await admin.keys(`{${prefix}:ingest}:ingest:[0-9]*`);
    expect(JSON.parse((await admin.hget(key!, 'data'))!)).toEqual({ body: body(1), acceptedAt: 1_700_000_000_000 });

    const processed: Array<{ webhook: StoredWebhook; attempt: number }> = [];
    worker(async (webhook, attempt) => void processed.push({ webhook, attempt }));
    await eventually(async () => processed.length === 1 && (await unprocessedWebhooks(admin, prefix)) === 0, 10_000, 'the webhook processed');
    expect(processed).toEqual([{ webhook: { body: body(1), acceptedAt: 1_700_000_000_000 }, attempt: 1 }]);
    // Not kept once processed: high volume, and nothing reads it again.
    await eventually(async () => (await admin.exists(key!)) === 0, 5_000, 'the processed job removed');
    expect(await producer.queue.getJobCounts('completed', 'failed')).toEqual({ completed: 0, failed: 0 });
  });

  it("sends a turn's webhooks to Redis in one socket write", async () => {
    const { producer, producerConnection } = await setUp();
    await producer.enqueue(body(0), Date.now()); // bullmq loads its scripts on the first add
    const socket = producerConnection.stream;
    const writev = socket._writev!;
    const writes: number[] = [];
    socket._writev = (chunks, callback) => {
      writes.push(chunks.length);
      writev.call(socket, chunks, callback);
    };
    try {
      await Promise.all(Array.from({ length: 20 }, (_, n) => producer.enqueue(body(n), Date.now())));
    } finally {
      socket._writev = writev;
    }
    expect(writes).toEqual([20]);
    expect(await producer.queue.getWaitingCount()).toBe(21);
  });

  it('refuses at once, without waiting for Redis, when the producer connection is not ready', async () => {
    const connection = createProducerConnection('redis://127.0.0.1:1');
    connection.on('error', () => {});
    const producer = new IngestProducer(connection, testPrefix(), { attempts: 1, backoffMs: 100 });
    opened.push(async () => {
      await producer.close();
      connection.disconnect();
    });
    const startedAt = Date.now();
    await expect(producer.enqueue(body(1), Date.now())).rejects.toThrow(/Redis connection is/);
    expect(Date.now() - startedAt).toBeLessThan(100);
  });

  it('retries a webhook whose processing failed, with the next attempt number', async () => {
    const { admin, prefix, producer, worker } = await setUp({ attempts: 3, backoffMs: 300 });
    const attempts: Array<{ attempt: number; at: number }> = [];
    worker(async (_webhook, attempt) => {
      attempts.push({ attempt, at: Date.now() });
      if (attempt === 1) throw new Error('Redis said no');
    });
    await producer.enqueue(body(1), Date.now());
    await eventually(async () => attempts.length === 2 && (await unprocessedWebhooks(admin, prefix)) === 0, 10_000, 'the second attempt');
    expect(attempts.map(({ attempt }) => attempt)).toEqual([1, 2]);
    // Exponential backoff of 300 ms with jitter 0.5: at least 150 ms.
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(150);
    expect(await producer.queue.getFailedCount()).toBe(0);
  });

  it('dead-letters a webhook after its last attempt: listed with the reason, counted, and re-driven', async () => {
    const { producer, worker, deadLetters, deadLettersCounted, logs } = await setUp({ attempts: 2, backoffMs: 100 });
    let failing = true;
    const processed: number[] = [];
    worker(async (_webhook, attempt) => {
      if (failing) throw new Error(`Redis refused attempt ${attempt}`);
      processed.push(attempt);
    });
    const payload = JSON.stringify({ groupKey: '{}:{alertname="X"}', alerts: [{}, {}, {}] });
    await producer.enqueue(payload, 1_700_000_000_000);

    const dead = await eventually(async () => (await deadLetters.list())[0], 10_000, 'the dead letter');
    expect(dead).toMatchObject({
      queue: 'ingest',
      reason: 'Redis refused attempt 2',
      attempts: 2,
      acceptedAt: new Date(1_700_000_000_000).toISOString(),
      alerts: 3,
      groupKey: '{}:{alertname="X"}',
      bytes: Buffer.byteLength(payload),
    });
    expect(Date.parse(dead.failedAt!)).toBeGreaterThan(Date.now() - 10_000);
    expect(await deadLettersCounted()).toBe(1);
    expect(logs.text).toMatch(/webhook processing failed for good: dead-lettered/);

    failing = false;
    expect(await deadLetters.retry(dead.id, 'ingest')).toMatchObject({ outcome: 'retried', deadLetter: { id: dead.id } });
    await eventually(() => processed.length === 1, 10_000, 'the re-driven webhook processed');
    expect(await deadLetters.list()).toEqual([]);
    expect(await deadLetters.retry(dead.id)).toEqual({ outcome: 'not_found' });
  });

  it('dead-letters at once a stored webhook that no longer parses or validates', async () => {
    const { producer, worker, deadLetters, deadLettersCounted } = await setUp({ attempts: 5 });
    const attempts: number[] = [];
    worker(async (_webhook, attempt) => {
      attempts.push(attempt);
      throw new UnprocessableWebhookError('stored webhook no longer valid: alerts: required');
    });
    await producer.enqueue('not json', Date.now());
    const dead = await eventually(async () => (await deadLetters.list())[0], 10_000, 'the dead letter');
    expect(dead).toMatchObject({ reason: 'stored webhook no longer valid: alerts: required', attempts: 1, alerts: null, groupKey: null });
    expect(attempts).toEqual([1]);
    expect(await deadLettersCounted()).toBe(1);
  });

  it('processes a webhook again on another worker when its worker stops while processing it', async () => {
    const { admin, prefix, producer, worker } = await setUp();
    let release: () => void = () => {};
    const first = worker(async () => {
      await new Promise<void>((resolve) => (release = resolve));
    });
    await producer.enqueue(body(1), Date.now());
    await eventually(async () => (await producer.queue.getActiveCount()) === 1, 5_000, 'the first worker to take the webhook');
    // As a killed process: its lock is no longer renewed.
    await first.close(true);
    const second: number[] = [];
    worker(async (_webhook, attempt) => void second.push(attempt));
    await eventually(async () => second.length === 1 && (await unprocessedWebhooks(admin, prefix)) === 0, 10_000, 'the second worker to take it over');
    expect(second).toEqual([1]);
    release();
    expect(await producer.queue.getJobCounts('failed', 'completed')).toEqual({ failed: 0, completed: 0 });
  });
});
