import { RateLimitError, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { DeliveryError, type ChannelKind, type DeliveryReceipt, type Notification, type Notifier } from '../notifiers/types.js';
import { countDeadLetters } from './dead-letters.js';
import type { DeliveryJob, DeliveryQueues } from './deliveries.js';
import { deliveryQueueName } from './names.js';
import { logWorkerError } from './redis.js';

interface DeliveryWorkerDeps {
  kind: ChannelKind;
  connection: Redis;
  prefix: string;
  queues: DeliveryQueues;
  /** The notifier of a receiver in the routing config in force now (it may be reloaded). */
  notifierFor: (receiver: string) => Notifier | undefined;
  timeoutMs: number;
  concurrency: number;
  /** JOB_LOCK_DURATION: a delivery of a crashed router runs again about this long after the crash. */
  lockMs: number;
  metrics: Metrics;
  logger: Logger;
}

function asDeliveryError(error: unknown): DeliveryError {
  if (error instanceof DeliveryError) return error;
  return new DeliveryError('unknown', error instanceof Error ? error.message : String(error), true);
}

/** Runs `send` with a hard deadline, so a peer that never answers cannot hold a worker slot. */
async function sendWithin(notifier: Notifier, notification: Notification, timeoutMs: number): Promise<DeliveryReceipt> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new DeliveryError('timeout', `no answer within ${timeoutMs} ms`, true);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    return await Promise.race([notifier.send(notification, controller.signal), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Delivers the jobs of one channel kind. The notifier classifies failures; the queue retries them
 * (exponential backoff with jitter), pauses the channel on rate limits without using an attempt,
 * and dead-letters permanent failures at once.
 */
export function startDeliveryWorker(deps: DeliveryWorkerDeps): Worker<Notification, DeliveryReceipt> {
  const { kind, queues, metrics, logger } = deps;
  const queue = queues.queue(kind);

  const processor = async (job: DeliveryJob): Promise<DeliveryReceipt> => {
    const notification = job.data;
    const { receiver, alert } = notification;
    const log = logger.child({ receiver, channel: kind, fingerprint: alert.fingerprint, status: alert.status, jobId: job.id });
    const notifier = deps.notifierFor(receiver);
    if (!notifier) {
      await job.removeDeduplicationKey();
      throw new UnrecoverableError(`not_found: receiver "${receiver}" is no longer in the routing configuration`);
    }
    try {
      const receipt = await sendWithin(notifier, notification, deps.timeoutMs);
      metrics.notificationsSent.inc({ receiver, channel: kind });
      metrics.deliveryLatency.observe({ receiver, channel: kind }, (Date.now() - notification.acceptedAt) / 1000);
      log.info({ action: receipt.action, receiptId: receipt.id, attempt: job.attemptsMade + 1 }, 'notification delivered');
      return receipt;
    } catch (caught) {
      const error = asDeliveryError(caught);
      metrics.notificationsFailed.inc({ receiver, reason: error.reason });
      if (error.retryAfterMs !== undefined) {
        log.warn({ reason: error.reason, retryAfterMs: error.retryAfterMs }, `channel rate-limited: pausing ${kind} deliveries`);
        await queue.rateLimit(error.retryAfterMs);
        throw new RateLimitError();
      }
      const lastAttempt = !error.retryable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      log[lastAttempt ? 'error' : 'warn'](
        { reason: error.reason, err: error.message, attempt: job.attemptsMade + 1, retryable: error.retryable },
        lastAttempt ? 'delivery failed for good: dead-lettered' : 'delivery failed: will retry',
      );
      if (lastAttempt) {
        // A dead letter must not keep later copies of the same notification from being delivered.
        await job.removeDeduplicationKey();
      }
      if (!error.retryable) throw new UnrecoverableError(`${error.reason}: ${error.message}`);
      throw new Error(`${error.reason}: ${error.message}`);
    }
  };

  const worker = new Worker<Notification, DeliveryReceipt>(deliveryQueueName(kind), processor, {
    connection: deps.connection,
    prefix: deps.prefix,
    concurrency: deps.concurrency,
    // bullmq honours queue.rateLimit() (a peer's Retry-After) only on workers that have a limiter:
    // without one, another slot or replica takes the job again at once. This limit is never reached.
    limiter: { max: Number.MAX_SAFE_INTEGER, duration: 1_000 },
    lockDuration: deps.lockMs,
    stalledInterval: deps.lockMs,
    skipVersionCheck: true,
  });
  countDeadLetters(worker, metrics);
  worker.on('error', logWorkerError(deps.connection, logger, { worker: deliveryQueueName(kind) }));
  return worker;
}
