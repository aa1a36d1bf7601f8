import { createHash, randomUUID } from 'node:crypto';
import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ChannelKind, DeliveryReceipt, Notification } from '../notifiers/types.js';
import { CHANNEL_KINDS, deliveryQueueName } from './names.js';

export type DeliveryJob = Job<Notification, DeliveryReceipt>;

/**
 * What makes two notifications the same one: a state change (firing -> resolved) and a re-fire
 * (new startsAt) are new notifications; copies from HA peers, repeats and replicas are not.
 */
export function notificationKey(n: Pick<Notification, 'receiver' | 'alert'>): string {
  return createHash('sha256')
    .update(`${n.receiver}\0${n.alert.fingerprint}\0${n.alert.startsAt}\0${n.alert.status}`)
    .digest('hex')
    .slice(0, 32);
}

/**
 * What deduplication decided for one notification (Alertmanager's dedup stage names its reasons too):
 * - `firing`: not queued or sent within the repeat interval (the first notification, or the interval elapsed);
 * - `resolved`: the alert resolved, a state change, so news whatever the interval;
 * - `duplicate`: the same (receiver, fingerprint, startsAt, status) was queued or sent within the
 *   repeat interval: a repeat, an HA copy, another replica's copy.
 */
export type DedupDecision = 'firing' | 'resolved' | 'duplicate';

/** One notification for the delivery queue of its receiver's channel kind. */
export interface PlannedDelivery {
  kind: ChannelKind;
  notification: Notification;
  repeatIntervalMs: number;
}

export interface DeliveryPolicy {
  attempts: number;
  backoffMs: number;
}

export interface FailedDelivery {
  id: string;
  queue: string;
  receiver: string;
  route: string;
  alert: { fingerprint: string; alertname: string; status: string; severity: string; slo: string | null; startsAt: string };
  reason: string;
  attempts: number;
  failedAt: string | null;
}

/** The delivery queues, one per channel kind, and what the API needs of them. */
export class DeliveryQueues {
  private readonly queues: Map<ChannelKind, Queue<Notification, DeliveryReceipt>>;

  constructor(connection: Redis, prefix: string, private readonly policy: DeliveryPolicy) {
    this.queues = new Map(
      CHANNEL_KINDS.map((kind) => {
        const queue = new Queue<Notification, DeliveryReceipt>(deliveryQueueName(kind), { connection, prefix, skipVersionCheck: true });
        queue.on('error', () => {});
        return [kind, queue];
      }),
    );
  }

  queue(kind: ChannelKind): Queue<Notification, DeliveryReceipt> {
    return this.queues.get(kind)!;
  }

  /**
   * Adds one delivery job per notification, unless the same notification was queued or delivered
   * within its `repeatIntervalMs`. bullmq's deduplication is one atomic SET NX PX in Redis, so it
   * holds across producers and router replicas. One Redis round trip per channel kind (addBulk)
   * rather than one per job: a webhook of 10 warnings makes 20 jobs. Decisions in input order.
   */
  async enqueueAll(deliveries: readonly PlannedDelivery[]): Promise<DedupDecision[]> {
    const planned = deliveries.map(({ kind, notification, repeatIntervalMs }) => ({ kind, notification, jobId: randomUUID(), repeatIntervalMs }));
    const added = new Map<string, string | undefined>();
    await Promise.all(
      CHANNEL_KINDS.map(async (kind) => {
        const ofKind = planned.filter((delivery) => delivery.kind === kind);
        if (ofKind.length === 0) return;
        const jobs = await this.queue(kind).addBulk(
          ofKind.map(({ notification, jobId, repeatIntervalMs }) => ({ name: 'deliver', data: notification, opts: this.jobOptions(notification, jobId, repeatIntervalMs) })),
        );
        ofKind.forEach(({ jobId }, i) => added.set(jobId, jobs[i]!.id));
      }),
    );
    return planned.map(({ notification, jobId }) => (added.get(jobId) === jobId ? notification.alert.status : 'duplicate'));
  }

  private jobOptions(notification: Notification, jobId: string, repeatIntervalMs: number) {
    return {
      jobId,
      deduplication: { id: notificationKey(notification), ttl: repeatIntervalMs },
      attempts: this.policy.attempts,
      backoff: { type: 'exponential', delay: this.policy.backoffMs, jitter: 0.5 },
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 14 * 24 * 3600 },
    };
  }

  async listFailed(limit = 100): Promise<FailedDelivery[]> {
    const perQueue = await Promise.all(
      [...this.queues.values()].map((queue) => queue.getFailed(0, limit - 1)),
    );
    return perQueue
      .flat()
      .filter((job): job is DeliveryJob => Boolean(job))
      .sort((a, b) => (b.finishedOn ?? 0) - (a.finishedOn ?? 0))
      .slice(0, limit)
      .map(describeFailed);
  }

  /** Re-drives one dead letter; null when no failed job has that id. */
  async retryFailed(id: string): Promise<FailedDelivery | null> {
    for (const queue of this.queues.values()) {
      const job = await queue.getJob(id);
      if (job && (await job.getState()) === 'failed') {
        const described = describeFailed(job);
        await job.retry('failed');
        return described;
      }
    }
    return null;
  }

  async counts(): Promise<Record<string, Record<string, number>>> {
    const entries = await Promise.all(
      [...this.queues.entries()].map(async ([kind, queue]) => [
        deliveryQueueName(kind),
        await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized'),
      ] as const),
    );
    return Object.fromEntries(entries);
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
  }
}

function describeFailed(job: DeliveryJob): FailedDelivery {
  const { alert } = job.data;
  return {
    id: job.id!,
    queue: job.queueName,
    receiver: job.data.receiver,
    route: job.data.route,
    alert: {
      fingerprint: alert.fingerprint,
      alertname: alert.alertname,
      status: alert.status,
      severity: alert.severity,
      slo: alert.slo,
      startsAt: alert.startsAt,
    },
    reason: job.failedReason,
    attempts: job.attemptsMade,
    failedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
  };
}
