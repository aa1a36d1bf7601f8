import { UnrecoverableError, Worker } from 'bullmq';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { type StoredWebhook, UnprocessableWebhookError } from '../pipeline/process-webhook.js';
import { countDeadLetters } from './dead-letters.js';
import type { IngestJob } from './ingest.js';
import { queuePrefix } from './keys.js';
import { INGEST_QUEUE } from './names.js';
import { logWorkerError, type RedisClient } from './redis.js';

export interface IngestWorkerDeps {
  /** The workers' connection (waits out outages); bullmq duplicates it for its blocking reads. */
  connection: RedisClient;
  prefix: string;
  /**
   * Processes one stored webhook; `attempt` counts from 1 (a job taken back from a stopped worker
   * runs with the same attempt again). A rejection is retried with the job's backoff, except an
   * UnprocessableWebhookError, which dead-letters the webhook at once.
   */
  process: (webhook: StoredWebhook, attempt: number) => Promise<void>;
  /** JOB_LOCK_DURATION: a webhook a crashed router was processing goes through again about this long after the crash. */
  lockMs: number;
  /** Webhooks processed at a time. */
  concurrency: number;
  metrics: Metrics;
  logger: Logger;
}

/**
 * Processing a webhook twice is safe (the delivery queues deduplicate), so a webhook whose worker
 * stopped is taken back up to this many times before it is dead-lettered; deliveries allow one.
 */
const MAX_STALLED = 3;

/** Hands each stored webhook to `process`: the queue only moves bytes. */
export function startIngestWorker(deps: IngestWorkerDeps): Worker<StoredWebhook, void> {
  const { metrics, logger } = deps;

  const processor = async (job: IngestJob): Promise<void> => {
    try {
      await deps.process(job.data, job.attemptsMade + 1);
    } catch (error) {
      if (error instanceof UnprocessableWebhookError) throw new UnrecoverableError(error.message);
      throw error;
    }
  };

  const worker = new Worker<StoredWebhook, void>(INGEST_QUEUE, processor, {
    connection: deps.connection,
    prefix: queuePrefix(deps.prefix, INGEST_QUEUE),
    concurrency: deps.concurrency,
    lockDuration: deps.lockMs,
    stalledInterval: deps.lockMs,
    maxStalledCount: MAX_STALLED,
    skipVersionCheck: true,
  });
  countDeadLetters(worker, metrics);
  worker.on('failed', (job, error) => {
    if (!job) return;
    // bullmq sets finishedOn only when the job moved to the failed set: a dead letter, not a retry.
    const deadLettered = Boolean(job.finishedOn);
    // While Redis is away the failure repeats the outage the connection already reported.
    if (deps.connection.status !== 'ready' && !deadLettered) return;
    logger[deadLettered ? 'error' : 'warn'](
      { jobId: job.id, attempt: job.attemptsMade, acceptedAt: job.data.acceptedAt, err: error.message },
      deadLettered ? 'webhook processing failed for good: dead-lettered' : 'webhook processing failed: will retry',
    );
  });
  worker.on('error', logWorkerError(deps.connection, logger, { worker: INGEST_QUEUE }));
  return worker;
}
