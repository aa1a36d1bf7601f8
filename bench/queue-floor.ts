import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createMetrics } from '../src/observability/metrics.js';
import { IngestProducer } from '../src/queue/ingest.js';
import { startIngestWorker } from '../src/queue/ingest-worker.js';
import { createConnection } from '../src/queue/redis.js';
import { ingestBodies } from './payloads.js';
import { cpuSeconds, startRedis, stop } from './processes.js';
import { round } from './stats.js';

/**
 * The floor under the backlog's drain: what the router's ingest queue costs per webhook when
 * processing does nothing. The router's own IngestProducer stores the bench's webhooks (32 in
 * flight, as the load generator's connections), then the router's own ingest worker (concurrency 8,
 * as ROLE=worker) takes them with a processor that returns at once. Both run in this process, one
 * after the other, so each one's CPU is this process's; Redis is a redis-server of its own.
 *
 * `npm run bench:queue-floor [-- --webhooks N]`
 */
const { values } = parseArgs({ options: { webhooks: { type: 'string', default: '30000' } } });
const webhooks = Number(values.webhooks);
if (!Number.isInteger(webhooks) || webhooks < 1) throw new Error(`--webhooks: expected a positive integer, got "${values.webhooks}"`);
const IN_FLIGHT = 32;
const WORKER_CONCURRENCY = 8;
const PREFIX = 'floor';

const ownCpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

/** CPU of this process and of Redis, and wall time, while `work` runs; in microseconds per webhook. */
async function measure(redisPid: number, work: () => Promise<void>) {
  const [ownBefore, redisBefore, started] = [ownCpuSeconds(), cpuSeconds(redisPid), performance.now()];
  await work();
  const seconds = (performance.now() - started) / 1000;
  const per = (cpu: number) => Math.round((cpu * 1e6) / webhooks);
  return {
    seconds: round(seconds, 2),
    perSecond: Math.round(webhooks / seconds),
    nodeUs: per(ownCpuSeconds() - ownBefore),
    redisUs: per(cpuSeconds(redisPid) - redisBefore),
  };
}

async function main(): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), 'alertcenter-queue-floor-'));
  const redis = await startRedis(workDir);
  const settings = { topology: { kind: 'single' as const, url: redis.url }, minReplicasAck: 0, replicaAckTimeoutMs: 0 };
  const producerRedis = createConnection(settings, 'producer');
  const workerRedis = createConnection(settings, 'worker');
  const producer = new IngestProducer(producerRedis, PREFIX, { attempts: 5, backoffMs: 1_000 });
  try {
    await producer.queue.waitUntilReady();
    const body = ingestBodies('webhook', 30);
    const bodies = Array.from({ length: webhooks }, (_, n) => body('floor', n));

    const store = await measure(redis.child.pid!, async () => {
      let next = 0;
      const sender = async () => {
        while (next < webhooks) await producer.enqueue(bodies[next++]!, Date.now());
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, sender));
    });

    let resolveDrained: () => void = () => {};
    const drained = new Promise<void>((resolve) => {
      resolveDrained = resolve;
    });
    let processed = 0;
    const take = await measure(redis.child.pid!, async () => {
      const worker = startIngestWorker({
        connection: workerRedis,
        prefix: PREFIX,
        process: async () => {
          if (++processed === webhooks) resolveDrained();
        },
        lockMs: 30_000,
        concurrency: WORKER_CONCURRENCY,
        metrics: createMetrics(),
        logger: pino({ level: 'silent' }),
      });
      await drained;
      // Until the last completion is written: the queue is empty only then.
      await worker.close();
    });
    const left = await producer.queue.count();

    const twoCores = (us: number) => Math.round(2e6 / us);
    const report = {
      webhooks,
      bodyBytes: Math.round(bodies.reduce((sum, b) => sum + b.length, 0) / webhooks),
      store: { ...store, note: `IngestProducer.enqueue, ${IN_FLIGHT} in flight` },
      take: { ...take, note: `ingest worker, concurrency ${WORKER_CONCURRENCY}, a processor that does nothing` },
      leftInQueue: left,
      // The most webhooks a second two cores could take from the queue if processing cost nothing.
      takeCeilingOnTwoCoresPerSecond: twoCores(take.nodeUs + take.redisUs),
    };
    console.log(JSON.stringify(report, null, 2));
  } finally {
    await producer.close();
    producerRedis.disconnect();
    workerRedis.disconnect();
    await stop(redis.child);
    rmSync(workDir, { recursive: true, force: true });
  }
}

await main();
