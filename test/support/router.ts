import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { loadConfig, secretsOf } from '../../src/config/env.js';
import { createLogger, secretSet } from '../../src/observability/logger.js';
import { openIngestQueue } from '../../src/queue/ingest.js';
import { type RunningRouter, startRouter } from '../../src/server.js';

export const REDIS_URL = 'redis://127.0.0.1:6379';

/** Collects the JSON log lines a router writes, so tests can read them. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    callback();
  }
  get text(): string {
    return this.lines.join('\n');
  }
  entries(): Array<Record<string, unknown>> {
    return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}

export interface TestRouter extends RunningRouter {
  prefix: string;
  logs: LogCapture;
}

export const testPrefix = () => `test-${randomUUID().slice(0, 8)}`;

/** A real router on an ephemeral port, against real Redis, isolated by its own key prefix. */
export async function startTestRouter(env: Record<string, string> = {}, { waitReady = true } = {}): Promise<TestRouter> {
  const prefix = env.REDIS_PREFIX ?? testPrefix();
  // Sentinel and Cluster settings come instead of REDIS_URL (both would be refused).
  const elsewhere = env.REDIS_SENTINELS !== undefined || env.REDIS_CLUSTER_NODES !== undefined;
  const config = loadConfig({
    PORT: '0',
    ...(!elsewhere && { REDIS_URL }),
    REDIS_PREFIX: prefix,
    LOG_LEVEL: 'info',
    DELIVERY_BACKOFF: '100ms',
    ...env,
  });
  const logs = new LogCapture();
  const router = await startRouter(config, createLogger(config.logLevel, logs, secretSet(secretsOf(config))));
  // Until its Redis connection is up, a router answers 503 (Alertmanager would retry; a test should wait).
  if (waitReady) await eventually(() => fetch(`${router.url}/readyz`).then((res) => res.ok), 10_000, 'router to be ready');
  return Object.assign(router, { prefix, logs });
}

/** Deletes every key of a test's prefix. */
export async function cleanRedis(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    // The router's keys are under hash tags that start with the prefix (src/queue/keys.ts).
    const keys = [...(await redis.keys(`${prefix}:*`)), ...(await redis.keys(`{${prefix}:*`))];
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}

/** Polls `probe` until it returns a truthy value or `timeoutMs` passes. */
export async function eventually<T>(probe: () => Promise<T> | T, timeoutMs = 10_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A webhook stored and not processed yet: waiting, being processed, or waiting for a retry. */
const UNPROCESSED_STATES = ['waiting', 'active', 'delayed', 'prioritized'] as const;

/** `use` of the ingest queue on `redis` (a test's own connection), closed after. */
async function withIngestQueue<T>(redis: Redis, prefix: string, use: (queue: ReturnType<typeof openIngestQueue>) => Promise<T>): Promise<T> {
  const queue = openIngestQueue(redis, prefix);
  try {
    return await use(queue);
  } finally {
    await queue.close();
  }
}

/** The webhooks an api stored and no worker has processed yet, oldest first, parsed. */
export async function storedWebhooks(redis: Redis, prefix: string): Promise<Array<{ acceptedAt: number; payload: any }>> {
  const jobs = await withIngestQueue(redis, prefix, (queue) => queue.getJobs([...UNPROCESSED_STATES]));
  return jobs
    .filter((job) => job !== undefined)
    .sort((a, b) => a.timestamp - b.timestamp)
    .map((job) => ({ acceptedAt: job.data.acceptedAt, payload: JSON.parse(job.data.body) }));
}

/** Webhooks stored and not processed yet: waiting, being processed, or waiting for a retry. */
export async function unprocessedWebhooks(redis: Redis, prefix: string): Promise<number> {
  const counts = await ingestCounts(redis, prefix, [...UNPROCESSED_STATES]);
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/** The ingest queue's job counts in the states named. */
export async function ingestCounts(redis: Redis, prefix: string, states: string[]): Promise<Record<string, number>> {
  return withIngestQueue(redis, prefix, (queue) => queue.getJobCounts(...(states as Parameters<typeof queue.getJobCounts>)));
}
