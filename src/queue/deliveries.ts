import { createHash, randomUUID } from 'node:crypto';
import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ChannelKind, DeliveryReceipt, Notification } from '../notifiers/types.js';
import type { DeadLetterSource } from './dead-letters.js';
import { CHANNEL_KINDS, deliveryQueueName, QUEUE_STATES } from './names.js';

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

  /** Every delivery queue, with what the dead-letter API shows of a failed delivery. */
  deadLetterSources(): DeadLetterSource[] {
    return [...this.queues.values()].map((queue) => ({ queue, describe: (job) => describeDelivery(job as DeliveryJob) }));
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

  async counts(): Promise<Record<string, Record<string, number>>> {
    const entries = await Promise.all(
      [...this.queues.entries()].map(async ([kind, queue]) => [
        deliveryQueueName(kind),
        await queue.getJobCounts(...QUEUE_STATES),
      ] as const),
    );
    return Object.fromEntries(entries);
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
  }
}

/** A failed delivery's fields in the dead-letter API: its receiver, route and alert. */
function describeDelivery(job: DeliveryJob) {
  const { alert } = job.data;
  return {
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
  };
}
