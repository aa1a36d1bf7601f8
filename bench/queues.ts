import { setTimeout as sleep } from 'node:timers/promises';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { openIngestQueue } from '../src/queue/ingest.js';
import { SyncQueues } from '../src/queue/syncs.js';

/** Job states that mean work is left: a queue is idle when all are 0. */
const PENDING = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;

export interface QueueSample {
  /** Epoch ms. */
  at: number;
  /** Webhooks not yet processed (waiting + active + delayed + ...) in the `ingest` queue. */
  ingest: number;
  /** Syncs not yet run, over the channels' queues. */
  syncs: number;
}

/**
 * Reads the router's queues in the bench's Redis (bullmq's job counts, the figures
 * alertcenter_queue_depth reports) every `intervalMs`, from the bench's own connection.
 */
export class QueueWatch {
  private readonly redis: Redis;
  private readonly ingest: Queue;
  private readonly syncs: Queue[];
  readonly samples: QueueSample[] = [];
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    redisUrl: string,
    prefix: string,
    private readonly intervalMs = 100,
  ) {
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
    // The router's own queue classes, so the keys are named as the router names them (hash tags included).
    this.ingest = openIngestQueue(this.redis, prefix);
    this.syncs = new SyncQueues(this.redis, prefix, { attempts: 1, backoffMs: 1 }).all();
    this.loop = this.run();
  }

  private async sample(): Promise<QueueSample> {
    const pending = async (queue: Queue) => Object.values(await queue.getJobCounts(...PENDING)).reduce((sum, count) => sum + count, 0);
    const [ingest, ...syncs] = await Promise.all([pending(this.ingest), ...this.syncs.map(pending)]);
    return { at: Date.now(), ingest: ingest!, syncs: syncs.reduce((sum, count) => sum + count, 0) };
  }

  private async run(): Promise<void> {
    while (this.running) {
      this.samples.push(await this.sample());
      await sleep(this.intervalMs);
    }
  }

  /**
   * The first sample at or after `from` (epoch ms) at which `empty` holds, waiting up to
   * `timeoutMs` past `from`; null when it never did.
   */
  async until(from: number, empty: (sample: QueueSample) => boolean, timeoutMs: number): Promise<QueueSample | null> {
    for (;;) {
      const found = this.samples.find((sample) => sample.at >= from && empty(sample));
      if (found) return found;
      if (Date.now() > from + timeoutMs) return null;
      await sleep(this.intervalMs);
    }
  }

  /** The sample nearest after `at`. */
  at(at: number): QueueSample | undefined {
    return this.samples.find((sample) => sample.at >= at) ?? this.samples.at(-1);
  }

  async close(): Promise<void> {
    this.running = false;
    await this.loop.catch(() => {});
    await Promise.all([this.ingest, ...this.syncs].map((queue) => queue.close()));
    this.redis.disconnect();
  }
}
