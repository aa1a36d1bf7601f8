import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { countDeadLetters, type DeadLetterSource } from './dead-letters.js';
import { queuePrefix } from './keys.js';
import { ACTIONS_QUEUE } from './names.js';
import { logWorkerError, type RedisClient } from './redis.js';

/** One click on a Slack button, as verified by the interactivity request URL. */
export interface SlackActionJobData {
  /** One of SLACK_ACTIONS. */
  action: string;
  incidentId: string;
  user: { id: string; name: string };
  /** Where an ephemeral answer to the user goes (Slack's response_url); null when none was given or allowed. */
  responseUrl: string | null;
  /** Epoch ms of the click's arrival. */
  receivedAt: number;
}

export type SlackActionJob = Job<SlackActionJobData, void>;

/** A click failed for a reason a retry cannot help: dead-lettered at once. */
export class UnretryableActionError extends Error {}

/**
 * The queue of Slack clicks: the request URL answers Slack at once and a worker does the work
 * (Alertmanager calls, the incident update), with retries for what can pass (Redis) and dead
 * letters listed and re-driven by the dead-letter API.
 */
export class ActionQueue {
  readonly queue: Queue<SlackActionJobData, void>;

  constructor(
    private readonly connection: RedisClient,
    prefix: string,
  ) {
    this.queue = new Queue<SlackActionJobData, void>(ACTIONS_QUEUE, { connection, prefix: queuePrefix(prefix, ACTIONS_QUEUE), skipVersionCheck: true });
    this.queue.on('error', () => {});
  }

  async enqueue(data: SlackActionJobData): Promise<void> {
    if (this.connection.status !== 'ready') throw new Error(`Redis connection is ${this.connection.status}`);
    await this.queue.add('slack-action', data, {
      attempts: 3,
      backoff: { type: 'exponential', delay: 500 },
      removeOnComplete: { age: 3600, count: 1000 },
      removeOnFail: { age: 14 * 24 * 3600, count: 10_000 },
    });
  }

  deadLetterSource(): DeadLetterSource {
    return { queue: this.queue, describe: (job) => ({ ...(job as SlackActionJob).data, responseUrl: undefined }) };
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

export interface ActionWorkerDeps {
  connection: RedisClient;
  prefix: string;
  run: (data: SlackActionJobData) => Promise<void>;
  lockMs: number;
  metrics: Metrics;
  logger: Logger;
}

export function startActionWorker(deps: ActionWorkerDeps): Worker<SlackActionJobData, void> {
  const worker = new Worker<SlackActionJobData, void>(
    ACTIONS_QUEUE,
    async (job: SlackActionJob) => {
      try {
        await deps.run(job.data);
      } catch (error) {
        if (error instanceof UnretryableActionError) throw new UnrecoverableError(error.message);
        throw error;
      }
    },
    {
      connection: deps.connection,
      prefix: queuePrefix(deps.prefix, ACTIONS_QUEUE),
      concurrency: 4,
      lockDuration: deps.lockMs,
      stalledInterval: deps.lockMs,
      skipVersionCheck: true,
    },
  );
  worker.on('failed', (job, error) => {
    if (job) deps.logger.warn({ jobId: job.id, action: job.data.action, incident: job.data.incidentId, err: error.message }, 'Slack action failed');
  });
  worker.on('error', logWorkerError(deps.connection, deps.logger, { worker: ACTIONS_QUEUE }));
  countDeadLetters(worker, deps.metrics);
  return worker;
}
