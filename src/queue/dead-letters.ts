import type { Job, Queue, Worker } from 'bullmq';
import type { Metrics } from '../observability/metrics.js';

/** One queue whose failed jobs are dead letters, and what the API shows of such a job's data. */
export interface DeadLetterSource {
  queue: Queue;
  /** The fields of a failed job's data that the API lists beside its id, queue, reason, attempts and failedAt. */
  describe: (job: Job) => Record<string, unknown>;
}

/** A failed job as the dead-letter API lists it: the common fields, then its queue's described fields. */
export interface DeadLetter {
  id: string;
  queue: string;
  reason: string;
  attempts: number;
  failedAt: string | null;
  [field: string]: unknown;
}

export type RetryOutcome =
  | { outcome: 'retried'; deadLetter: DeadLetter }
  | { outcome: 'not_found' }
  /** The id names a dead letter in more than one queue: name the queue. */
  | { outcome: 'ambiguous'; queues: string[] };

/**
 * The dead letters of several bullmq queues (ingest, deliveries): every failed job, kept by each
 * queue's removeOnFail, listed newest first across queues and re-driven one at a time.
 */
export class DeadLetters {
  constructor(private readonly sources: readonly DeadLetterSource[]) {}

  /** The queues' names, in the order given. */
  queues(): string[] {
    return this.sources.map(({ queue }) => queue.name);
  }

  /** The newest `limit` dead letters of all queues (or of the one named), newest first. */
  async list({ limit = 100, queue }: { limit?: number; queue?: string } = {}): Promise<DeadLetter[]> {
    const sources = this.sources.filter((source) => queue === undefined || source.queue.name === queue);
    // Each queue's failed set is ordered by failure time: its newest `limit` are enough.
    const perQueue = await Promise.all(
      sources.map(async (source) =>
        ((await source.queue.getFailed(0, limit - 1)) as Array<Job | undefined>).filter((job): job is Job => Boolean(job)).map((job) => ({ job, source })),
      ),
    );
    return perQueue
      .flat()
      .sort((a, b) => (b.job.finishedOn ?? 0) - (a.job.finishedOn ?? 0))
      .slice(0, limit)
      .map(({ job, source }) => describe(job, source));
  }

  /** Moves one dead letter back to its queue, as one more attempt; found by id, in `queue` when given. */
  async retry(id: string, queue?: string): Promise<RetryOutcome> {
    const sources = this.sources.filter((source) => queue === undefined || source.queue.name === queue);
    const found: Array<{ job: Job; source: DeadLetterSource }> = [];
    for (const source of sources) {
      const job = (await source.queue.getJob(id)) as Job | undefined;
      if (job && (await job.getState()) === 'failed') found.push({ job, source });
    }
    if (found.length === 0) return { outcome: 'not_found' };
    if (found.length > 1) return { outcome: 'ambiguous', queues: found.map(({ source }) => source.queue.name) };
    const [{ job, source }] = found as [{ job: Job; source: DeadLetterSource }];
    const deadLetter = describe(job, source);
    await job.retry('failed');
    return { outcome: 'retried', deadLetter };
  }
}

function describe(job: Job, source: DeadLetterSource): DeadLetter {
  return {
    id: job.id!,
    queue: source.queue.name,
    ...source.describe(job),
    reason: job.failedReason,
    attempts: job.attemptsMade,
    failedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
  };
}

/**
 * Counts the jobs a worker dead-letters (alertcenter_dead_letters_total{queue}): every way a job
 * ends in the failed set passes through the worker's `failed` event (a last attempt, an unrecoverable
 * error, a job that stalled too often), and only then has the job a finishedOn; a retry has none.
 */
export function countDeadLetters(worker: Worker, metrics: Metrics): void {
  worker.on('failed', (job) => {
    if (job?.finishedOn) metrics.deadLetters.inc({ queue: worker.name });
  });
}
