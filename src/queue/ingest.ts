import type { Redis } from 'ioredis';

/**
 * The ingest log: a Redis stream to which the webhook appends every accepted payload, as received,
 * with one XADD. The workers read it through one consumer group (see IngestConsumer), so each
 * payload is processed by one worker of one replica, and taken over if that worker dies.
 *
 * A bullmq job per webhook cost the webhook's process about a third of its CPU (the job's hash,
 * its options, a script of ten keys) and Redis twice the work of an XADD: bench/RESULTS.md.
 */
export interface IngestKeys {
  /** Entries not yet processed; each is deleted once it is. */
  stream: string;
  /** Entries given up on, with the reason (the last 1,000 or so). */
  failed: string;
}

export const ingestKeys = (prefix: string): IngestKeys => ({ stream: `${prefix}:webhooks`, failed: `${prefix}:webhooks:failed` });

export const INGEST_GROUP = 'routers';

/** One entry's fields. */
export interface IngestEntry {
  id: string;
  /** Epoch ms at which the webhook was answered 202. */
  acceptedAt: number;
  /** The request body as received: validated JSON. */
  body: string;
}

/** The webhook's only write: one entry per accepted payload, on a connection that fails fast. */
export class IngestProducer {
  private readonly keys: IngestKeys;

  constructor(private readonly connection: Redis, prefix: string) {
    this.keys = ingestKeys(prefix);
  }

  /** Resolves once Redis has stored the payload; rejects when Redis cannot take it. */
  async enqueue(body: string, acceptedAt: number): Promise<void> {
    // ioredis would wait for a connection that is not ready; a webhook must not. No connection: fail now.
    if (this.connection.status !== 'ready') throw new Error(`Redis connection is ${this.connection.status}`);
    await this.connection.xadd(this.keys.stream, '*', 'acceptedAt', String(acceptedAt), 'body', body);
  }
}

/**
 * How many payloads wait to be processed, are being processed (read by a worker and not done: also
 * those waiting for a retry, and those of a worker that died until another takes them over), and
 * were given up on.
 */
export async function ingestCounts(redis: Redis, prefix: string): Promise<{ waiting: number; active: number; failed: number }> {
  const keys = ingestKeys(prefix);
  const [length, groups, failed] = await Promise.all([
    redis.xlen(keys.stream),
    // No stream yet (nothing accepted since Redis started), so no group either.
    (redis.call('XINFO', 'GROUPS', keys.stream) as Promise<unknown[][]>).catch(() => []),
    redis.xlen(keys.failed),
  ]);
  const group = groups.map(fieldsOf).find((fields) => fields.name === INGEST_GROUP);
  const active = Number(group?.pending ?? 0);
  // An entry deleted while still pending counts in the pending list, not in the stream's length.
  return { waiting: Math.max(length - active, 0), active, failed };
}

/** A Redis reply of alternating names and values, as an object. */
export function fieldsOf(reply: unknown[]): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) fields[String(reply[i])] = reply[i + 1];
  return fields;
}
