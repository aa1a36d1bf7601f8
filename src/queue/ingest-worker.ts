import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { UnprocessableWebhookError, type StoredWebhook } from '../pipeline/process-webhook.js';
import { ingestKeys } from './ingest.js';
import { IngestConsumer, UnprocessableEntryError } from './ingest-consumer.js';

export interface IngestWorkerDeps {
  connection: Redis;
  prefix: string;
  /**
   * Processes one stored webhook; `attempt` counts from 1. A rejection is retried, except an
   * UnprocessableWebhookError, which dead-letters the webhook at once.
   */
  process: (webhook: StoredWebhook, attempt: number) => Promise<void>;
  /** JOB_LOCK_DURATION: a webhook a crashed router was processing goes through again about this long after the crash. */
  lockMs: number;
  logger: Logger;
  /** Webhooks processed at a time. */
  concurrency: number;
}

/** Hands each stored webhook to `process`; the queue only moves bytes. */
export function startIngestWorker(deps: IngestWorkerDeps): IngestConsumer {
  return new IngestConsumer({
    redis: deps.connection,
    keys: ingestKeys(deps.prefix),
    concurrency: deps.concurrency,
    lockMs: deps.lockMs,
    handle: async (entry, attempt) => {
      try {
        await deps.process({ body: entry.body, acceptedAt: entry.acceptedAt }, attempt);
      } catch (error) {
        if (error instanceof UnprocessableWebhookError) throw new UnprocessableEntryError(error.message);
        throw error;
      }
    },
    logger: deps.logger,
  });
}
