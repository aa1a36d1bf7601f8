import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { INGEST_QUEUE } from './names.js';

/** What the webhook stores before it answers 202: the validated payload and when it was accepted. */
export interface IngestJobData {
  payload: unknown;
  acceptedAt: number;
}

export const INGEST_JOB_OPTIONS = {
  // Processing an ingest job only touches Redis; retry through a Redis hiccup, keep the failures.
  attempts: 20,
  backoff: { type: 'exponential', delay: 500, jitter: 0.5 },
  removeOnComplete: { count: 1_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
} as const;

/** The webhook's only write: one job per accepted payload, on a connection that fails fast. */
export class IngestProducer {
  private readonly queue: Queue<IngestJobData>;

  constructor(private readonly connection: Redis, prefix: string) {
    this.queue = new Queue<IngestJobData>(INGEST_QUEUE, { connection, prefix, skipVersionCheck: true });
    // Errors surface through add(); this only stops them from becoming unhandled 'error' events.
    this.queue.on('error', () => {});
  }

  /** Resolves once Redis has stored the job; rejects when Redis cannot take it. */
  async enqueue(payload: unknown, acceptedAt: number): Promise<void> {
    // bullmq waits for a connection that is not ready; a webhook must not. No connection: fail now.
    if (this.connection.status !== 'ready') throw new Error(`Redis connection is ${this.connection.status}`);
    await this.queue.add('webhook', { payload, acceptedAt }, INGEST_JOB_OPTIONS);
  }

  counts(): Promise<Record<string, number>> {
    return this.queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
