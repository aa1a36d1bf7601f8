import { DelayedError, RateLimitError, UnrecoverableError, Worker } from 'bullmq';
import type { ChannelKind } from '../domain/channels.js';
import { DeliveryError } from '../notifiers/types.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { SyncOutcome } from '../pipeline/sync.js';
import { countDeadLetters } from './dead-letters.js';
import { queuePrefix } from './keys.js';
import { syncQueueName } from './names.js';
import { logWorkerError, type RedisClient } from './redis.js';
import type { SyncJob, SyncJobData, SyncQueues } from './syncs.js';

interface SyncWorkerDeps {
  kind: ChannelKind;
  connection: RedisClient;
  prefix: string;
  queues: SyncQueues;
  /** The sync stage (src/pipeline/sync.ts). */
  sync: (data: SyncJobData) => Promise<SyncOutcome>;
  /** Puts a failed attempt on the incident's timeline. */
  recordFailure: (data: SyncJobData, error: DeliveryError, attempt: { number: number; final: boolean; channel: string }) => Promise<void>;
  concurrency: number;
  /** JOB_LOCK_DURATION: a sync of a crashed router runs again about this long after the crash. */
  lockMs: number;
  metrics: Metrics;
  logger: Logger;
}

function asDeliveryError(error: unknown): DeliveryError {
  if (error instanceof DeliveryError) return error;
  return new DeliveryError('unknown', error instanceof Error ? error.message : String(error), true);
}

/**
 * Runs the syncs of one channel kind; only moves jobs. The notifier classifies failures; here they
 * become bullmq's: retried with backoff, a pause of the channel on rate limits without using an
 * attempt, a dead letter at once for permanent ones; a deferral becomes a delay.
 */
export function startSyncWorker(deps: SyncWorkerDeps): Worker<SyncJobData, SyncOutcome> {
  const { kind, metrics, logger } = deps;
  const queue = deps.queues.queue(kind);

  const processor = async (job: SyncJob, token?: string): Promise<SyncOutcome> => {
    let outcome: SyncOutcome;
    try {
      outcome = await deps.sync(job.data);
    } catch (caught) {
      throw await failure(job, asDeliveryError(caught));
    }
    if (outcome.kind === 'deferred' || outcome.kind === 'busy') {
      await job.moveToDelayed(outcome.until, token);
      throw new DelayedError();
    }
    return outcome;
  };

  async function failure(job: SyncJob, error: DeliveryError): Promise<Error> {
    const { receiver, incidentId } = job.data;
    const log = logger.child({ receiver, channel: kind, incident: incidentId, jobId: job.id });
    metrics.notificationsFailed.inc({ receiver, reason: error.reason });
    const rateLimited = error.retryAfterMs !== undefined;
    const final = !rateLimited && (!error.retryable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1));
    await deps.recordFailure(job.data, error, { number: job.attemptsMade + 1, final, channel: kind }).catch((recordError: unknown) => {
      log.warn({ err: String(recordError) }, 'could not record the failure on the incident timeline');
    });
    if (rateLimited) {
      log.warn({ reason: error.reason, retryAfterMs: error.retryAfterMs }, `channel rate-limited: pausing ${kind} syncs`);
      await queue.rateLimit(error.retryAfterMs!);
      return new RateLimitError();
    }
    log[final ? 'error' : 'warn'](
      { reason: error.reason, err: error.message, attempt: job.attemptsMade + 1, retryable: error.retryable },
      final ? 'notification failed for good: dead-lettered' : 'notification failed: will retry',
    );
    return error.retryable ? new Error(`${error.reason}: ${error.message}`) : new UnrecoverableError(`${error.reason}: ${error.message}`);
  }

  const worker = new Worker<SyncJobData, SyncOutcome>(syncQueueName(kind), processor, {
    connection: deps.connection,
    prefix: queuePrefix(deps.prefix, syncQueueName(kind)),
    concurrency: deps.concurrency,
    // bullmq honours queue.rateLimit() (a peer's Retry-After) only on workers that have a limiter:
    // without one, another slot or replica takes the job again at once. This limit is never reached.
    limiter: { max: Number.MAX_SAFE_INTEGER, duration: 1_000 },
    lockDuration: deps.lockMs,
    stalledInterval: deps.lockMs,
    skipVersionCheck: true,
  });
  worker.on('error', logWorkerError(deps.connection, logger, { worker: syncQueueName(kind) }));
  countDeadLetters(worker, metrics);
  return worker;
}
