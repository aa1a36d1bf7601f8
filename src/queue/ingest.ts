import { type Job, Queue } from 'bullmq';
import type { StoredWebhook } from '../pipeline/process-webhook.js';
import type { DeadLetterSource } from './dead-letters.js';
import { queuePrefix } from './keys.js';
import { INGEST_QUEUE } from './names.js';
import type { RedisClient } from './redis.js';
import type { ReplicaAck } from './replica-ack.js';

/**
 * The ingest queue: one bullmq job per accepted webhook, its body stored as received (the string
 * the webhook validated) with the time it was answered 202. bullmq gives it what deliveries have:
 * locks with fencing tokens, retries with backoff, dead letters kept 14 days, one API to list and
 * re-drive them. A job costs the webhook more CPU than an XADD did (bench/RESULTS.md), still
 * thousands of webhooks per second per core, far above what Alertmanager sends.
 */
export type IngestJob = Job<StoredWebhook, void>;

/** Retries of a webhook whose processing failed: the delivery policy (DELIVERY_ATTEMPTS, DELIVERY_BACKOFF). */
export interface IngestPolicy {
  attempts: number;
  backoffMs: number;
}

/** Opens the ingest queue on `connection`; its errors are the connection's, reported by it. */
export function openIngestQueue(connection: RedisClient, prefix: string): Queue<StoredWebhook, void> {
  const queue = new Queue<StoredWebhook, void>(INGEST_QUEUE, { connection, prefix: queuePrefix(prefix, INGEST_QUEUE), skipVersionCheck: true });
  queue.on('error', () => {});
  return queue;
}

/**
 * The webhook's only write: one job per accepted payload, on the producer connection, which fails
 * fast (no offline queue, a command timeout) so that a Redis outage is a 503 that Alertmanager retries.
 * With REDIS_MIN_REPLICAS_ACK, the write counts only once that many replicas hold it (WAIT).
 */
export class IngestProducer {
  readonly queue: Queue<StoredWebhook, void>;
  private readonly jobOptions;
  private readonly keyTag: string;

  constructor(
    private readonly connection: RedisClient,
    prefix: string,
    policy: IngestPolicy,
    private readonly replicas?: ReplicaAck,
  ) {
    this.queue = openIngestQueue(connection, prefix);
    this.keyTag = queuePrefix(prefix, INGEST_QUEUE);
    this.jobOptions = {
      attempts: policy.attempts,
      backoff: { type: 'exponential', delay: policy.backoffMs, jitter: 0.5 },
      // High volume, and nothing reads a processed webhook again: its alerts live on in alert state and deliveries.
      removeOnComplete: true,
      // Dead letters: kept for inspection and re-drive, bounded in time and number.
      removeOnFail: { age: 14 * 24 * 3600, count: 10_000 },
    };
  }

  /**
   * Resolves once Redis has stored the payload (and, with REDIS_MIN_REPLICAS_ACK, enough replicas
   * have it); rejects when Redis cannot take it, with a ReplicaAckError when the replicas fell short.
   */
  async enqueue(body: string, acceptedAt: number): Promise<void> {
    // bullmq waits for a connection that is not ready yet (its first connection); a webhook must not.
    if (this.connection.status !== 'ready') throw new Error(`Redis connection is ${this.connection.status}`);
    await this.queue.add('webhook', { body, acceptedAt }, this.jobOptions);
    await this.replicas?.confirm(this.keyTag);
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

/**
 * The ingest queue as a source of dead letters: each lists when its webhook was accepted, its size,
 * and, when its body still parses, its alert count and group key; the body itself stays in Redis.
 */
export function ingestDeadLetterSource(queue: Queue<StoredWebhook, void>): DeadLetterSource {
  return {
    queue,
    describe: (job) => {
      const { body, acceptedAt } = (job as IngestJob).data;
      const summary = summarize(body);
      return { acceptedAt: new Date(acceptedAt).toISOString(), bytes: Buffer.byteLength(body), ...summary };
    },
  };
}

function summarize(body: string): { alerts: number | null; groupKey: string | null } {
  try {
    const payload = JSON.parse(body) as { alerts?: unknown; groupKey?: unknown };
    return {
      alerts: Array.isArray(payload.alerts) ? payload.alerts.length : null,
      groupKey: typeof payload.groupKey === 'string' ? payload.groupKey : null,
    };
  } catch {
    return { alerts: null, groupKey: null };
  }
}
