import { type Job, Queue } from 'bullmq';
import { CHANNEL_KINDS, type ChannelKind } from '../domain/channels.js';
import type { DeadLetterSource } from './dead-letters.js';
import { queuePrefix } from './keys.js';
import { QUEUE_STATES, syncQueueName } from './names.js';
import type { RedisClient } from './redis.js';

/** What one sync job carries: which receiver should converge on which incident. Nothing else: the sync reads the rest when it runs. */
export interface SyncJobData {
  incidentId: string;
  receiver: string;
}

export type SyncJob = Job<SyncJobData>;

export interface PlannedSync extends SyncJobData {
  kind: ChannelKind;
}

export interface RetryPolicy {
  attempts: number;
  backoffMs: number;
}

/**
 * One queue of syncs per channel kind, so a throttled Slack never delays a page. At most one sync
 * waits per (incident, receiver), and never two run at once: bullmq's deduplication with
 * `keepLastIfActive` keeps the newest request while one runs and queues it when that one ends. A
 * burst of changes to one incident makes one sync, which reads the incident as it is by then.
 */
export class SyncQueues {
  private readonly queues: Map<ChannelKind, Queue<SyncJobData>>;

  constructor(
    connection: RedisClient,
    prefix: string,
    private readonly policy: RetryPolicy,
  ) {
    this.queues = new Map(
      CHANNEL_KINDS.map((kind) => {
        const queue = new Queue<SyncJobData>(syncQueueName(kind), { connection, prefix: queuePrefix(prefix, syncQueueName(kind)), skipVersionCheck: true });
        queue.on('error', () => {});
        return [kind, queue];
      }),
    );
  }

  queue(kind: ChannelKind): Queue<SyncJobData> {
    return this.queues.get(kind)!;
  }

  all(): Array<Queue<SyncJobData>> {
    return [...this.queues.values()];
  }

  /** A dead sync names its incident and receiver; re-driven, it syncs the incident as it is by then. */
  deadLetterSources(): DeadLetterSource[] {
    return this.all().map((queue) => ({ queue, describe: (job) => ({ ...(job as SyncJob).data }) }));
  }

  /** One round trip per channel kind. */
  async enqueue(syncs: readonly PlannedSync[]): Promise<void> {
    await Promise.all(
      CHANNEL_KINDS.map(async (kind) => {
        const ofKind = syncs.filter((sync) => sync.kind === kind);
        if (ofKind.length === 0) return;
        await this.queue(kind).addBulk(
          ofKind.map(({ incidentId, receiver }) => ({
            name: 'sync',
            data: { incidentId, receiver },
            opts: {
              deduplication: { id: `${incidentId}:${receiver}`, keepLastIfActive: true },
              attempts: this.policy.attempts,
              backoff: { type: 'exponential', delay: this.policy.backoffMs, jitter: 0.5 },
              removeOnComplete: { age: 3600, count: 10_000 },
              removeOnFail: { age: 14 * 24 * 3600 },
            },
          })),
        );
      }),
    );
  }

  async counts(): Promise<Record<string, Record<string, number>>> {
    const entries = await Promise.all(
      [...this.queues.entries()].map(async ([kind, queue]) => [syncQueueName(kind), await queue.getJobCounts(...QUEUE_STATES)] as const),
    );
    return Object.fromEntries(entries);
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((queue) => queue.close()));
  }
}
