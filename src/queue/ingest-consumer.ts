import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { fieldsOf, INGEST_GROUP, type IngestEntry, type IngestKeys } from './ingest.js';

export interface IngestConsumerOptions {
  /** The workers' connection, for acks and takeovers; the blocking read gets a connection of its own. */
  redis: Redis;
  keys: IngestKeys;
  /** Entries processed at a time. */
  concurrency: number;
  /** JOB_LOCK_DURATION: an entry that its consumer has not touched for this long is taken over (its process died). */
  lockMs: number;
  /** Processes one entry; `attempt` counts from 1, and a takeover is another attempt. A rejection is retried. */
  handle: (entry: IngestEntry, attempt: number) => Promise<void>;
  logger: Logger;
  /** Attempts, counted only while Redis answers (an outage must not use them up), before an entry is given up on; retry delays. */
  retry?: { attempts: number; firstDelayMs: number; lastDelayMs: number };
}

/** A stored payload that no attempt can process: given up on at once. */
export class UnprocessableEntryError extends Error {
  override name = 'UnprocessableEntryError';
}

/** About 14 minutes of retries: a Redis refusing writes (maxmemory) has time to be mended. */
const RETRY = { attempts: 20, firstDelayMs: 500, lastDelayMs: 60_000 };
/** How long one read waits for new entries; closing interrupts it. */
const READ_BLOCK_MS = 5_000;
/** Given-up entries kept for inspection (approximately: MAXLEN ~). */
const FAILED_KEPT = 10_000;
/** A consumer with nothing pending and no read for this long belongs to a process that is gone. */
const DEPARTED_MS = 3_600_000;

type StreamEntries = Array<[id: string, fields: string[] | null]>;

/**
 * Reads the ingest stream through the consumer group, as one consumer of it: at most `concurrency`
 * entries at a time, each deleted once handled. A failed entry is retried with exponential backoff,
 * and given up on (moved to the failed stream, with the reason) after its last attempt. Every lockMs/2
 * it marks its own entries as still in work and takes over entries that another consumer left
 * untouched for lockMs: that consumer's process died, and the entry goes through again (safe: the
 * delivery queues deduplicate). What bullmq's stalled-job check does for its jobs.
 */
export class IngestConsumer {
  readonly name = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly blocking: Redis;
  /** Entries in work here (handled, or waiting for a retry), settled once done with. */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Wakes the waits that end early on close: a full read loop, retry delays. */
  private readonly wakeOnClose = new Set<() => void>();
  private slotFreed: (() => void) | undefined;
  private closing = false;
  private lastDepartedCheck = 0;
  private readonly reading: Promise<void>;
  private readonly maintenance: NodeJS.Timeout;

  constructor(private readonly options: IngestConsumerOptions) {
    // Commands fail at once while the connection is down (no offline queue, no resend): the loop
    // waits for the connection and tries again, and closing never waits for a command stuck offline.
    this.blocking = options.redis.duplicate({ enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    // Outages are reported by the workers' connection.
    this.blocking.on('error', () => {});
    this.reading = this.readLoop();
    this.maintenance = setInterval(() => void this.maintain(), options.lockMs / 2);
  }

  /** Stops reading; unless `force`, waits for the entries in work (a retry delay ends at once: another consumer takes the entry over). */
  async close(force = false): Promise<void> {
    this.closing = true;
    clearInterval(this.maintenance);
    for (const wake of this.wakeOnClose) wake();
    this.blocking.disconnect();
    await this.reading;
    if (!force) await Promise.all(this.inFlight.values());
    if (!force && this.options.redis.status === 'ready') {
      // Nothing left pending here: leave the group now rather than wait to be found departed.
      const { redis, keys } = this.options;
      const mine = (await redis.xpending(keys.stream, INGEST_GROUP, '-', '+', 1, this.name).catch(() => [undefined])) as unknown[];
      if (mine.length === 0) await redis.xgroup('DELCONSUMER', keys.stream, INGEST_GROUP, this.name).catch(() => {});
    }
  }

  private async readLoop(): Promise<void> {
    const { keys, concurrency } = this.options;
    let groupReady = false;
    while (!this.closing) {
      const free = concurrency - this.inFlight.size;
      if (free === 0) {
        await this.untilWoken((wake) => (this.slotFreed = wake));
        continue;
      }
      if (this.blocking.status !== 'ready') {
        await this.untilWoken((wake) => this.blocking.once('ready', wake));
        continue;
      }
      try {
        if (!groupReady) {
          await this.ensureGroup();
          groupReady = true;
        }
        const reply = (await this.blocking.xreadgroup('GROUP', INGEST_GROUP, this.name, 'COUNT', free, 'BLOCK', READ_BLOCK_MS, 'STREAMS', keys.stream, '>')) as
          | Array<[key: string, entries: StreamEntries]>
          | null;
        for (const [id, fields] of reply?.[0]?.[1] ?? []) this.start(id, fields, 1);
      } catch (error) {
        if (this.closing) break;
        // The stream (and so the group) is gone, e.g. a Redis that restarted without persistence.
        if (/NOGROUP/.test((error as Error).message)) groupReady = false;
        else await this.untilWoken((wake) => setTimeout(wake, 1_000));
      }
    }
  }

  /**
   * From the first entry the stream holds: a group created after the webhook's first XADD misses
   * nothing. On the reading connection, which closing interrupts, as it does the read.
   */
  private async ensureGroup(): Promise<void> {
    try {
      await this.blocking.xgroup('CREATE', this.options.keys.stream, INGEST_GROUP, '0', 'MKSTREAM');
    } catch (error) {
      if (!/BUSYGROUP/.test((error as Error).message)) throw error;
    }
  }

  private start(id: string, fields: string[] | null, attempt: number): void {
    // Deleted while pending (it was handled, or given up on, by a consumer taken for dead): drop it.
    if (fields === null) {
      void this.ack(id).catch(() => {});
      return;
    }
    const { acceptedAt, body } = fieldsOf(fields);
    const entry: IngestEntry = { id, acceptedAt: Number(acceptedAt), body: String(body) };
    const done = this.attempt(entry, attempt).finally(() => {
      this.inFlight.delete(id);
      this.slotFreed?.();
    });
    this.inFlight.set(id, done);
  }

  private async attempt(entry: IngestEntry, attempt: number): Promise<void> {
    try {
      await this.options.handle(entry, attempt);
      await this.ack(entry.id);
      return;
    } catch (error) {
      const answering = this.options.redis.status === 'ready';
      const retry = this.options.retry ?? RETRY;
      const final = error instanceof UnprocessableEntryError || (answering && attempt >= retry.attempts);
      if (answering) {
        this.options.logger.error(
          { err: error, entryId: entry.id, attempt },
          final ? `webhook processing failed for good: kept in ${this.options.keys.failed}` : 'webhook processing failed: will retry',
        );
      }
      if (final) return this.giveUp(entry, error as Error);
      const delay = Math.min(retry.firstDelayMs * 2 ** (attempt - 1), retry.lastDelayMs) * (0.5 + Math.random() / 2);
      await this.untilWoken((wake) => setTimeout(wake, delay));
      // Closing: the entry stays pending, and another consumer takes it over.
      if (this.closing) return;
      return this.attempt(entry, answering ? attempt + 1 : attempt);
    }
  }

  private async ack(id: string): Promise<void> {
    const { stream } = this.options.keys;
    await this.options.redis.multi().xack(stream, INGEST_GROUP, id).xdel(stream, id).exec();
  }

  private async giveUp(entry: IngestEntry, error: Error): Promise<void> {
    const { stream, failed } = this.options.keys;
    await this.options.redis
      .multi()
      .xadd(failed, 'MAXLEN', '~', FAILED_KEPT, '*', 'id', entry.id, 'acceptedAt', String(entry.acceptedAt), 'reason', error.message, 'body', entry.body)
      .xack(stream, INGEST_GROUP, entry.id)
      .xdel(stream, entry.id)
      .exec()
      // Not written: the entry stays pending and is taken over, then tried again.
      .catch(() => {});
  }

  /** Every lockMs/2: keeps this consumer's entries, takes over those of departed ones, forgets departed consumers. */
  private async maintain(): Promise<void> {
    if (this.closing || this.options.redis.status !== 'ready') return;
    const { redis, keys, lockMs, concurrency } = this.options;
    try {
      // Claiming resets an entry's idle time without counting a delivery (JUSTID).
      if (this.inFlight.size > 0) await redis.xclaim(keys.stream, INGEST_GROUP, this.name, 0, ...this.inFlight.keys(), 'JUSTID');

      const free = concurrency - this.inFlight.size;
      if (free > 0) {
        const stale = ((await redis.xpending(keys.stream, INGEST_GROUP, 'IDLE', lockMs, '-', '+', free)) as Array<[string, string, number, number]>).filter(
          ([id]) => !this.inFlight.has(id),
        );
        const deliveries = new Map(stale.map(([id, , , count]) => [id, count]));
        if (stale.length > 0) {
          // Only entries still idle that long are claimed: of two consumers taking over, one gets each.
          const claimed = (await redis.xclaim(keys.stream, INGEST_GROUP, this.name, lockMs, ...deliveries.keys())) as StreamEntries;
          for (const [id, fields] of claimed) {
            if (this.closing) break;
            this.options.logger.warn({ entryId: id, attempt: deliveries.get(id)! + 1 }, 'taking over a webhook whose worker stopped processing it');
            this.start(id, fields, deliveries.get(id)! + 1);
          }
        }
      }
      if (Date.now() - this.lastDepartedCheck > DEPARTED_MS / 4) await this.forgetDeparted();
    } catch (error) {
      // No group yet, or Redis went away meanwhile: the next round tries again.
      if (!/NOGROUP/.test((error as Error).message)) this.options.logger.warn({ err: error }, 'ingest stream maintenance failed');
    }
  }

  private async forgetDeparted(): Promise<void> {
    const { redis, keys } = this.options;
    this.lastDepartedCheck = Date.now();
    const consumers = ((await redis.call('XINFO', 'CONSUMERS', keys.stream, INGEST_GROUP)) as unknown[][]).map(fieldsOf);
    for (const consumer of consumers) {
      if (consumer.name !== this.name && Number(consumer.pending) === 0 && Number(consumer.idle) > DEPARTED_MS) {
        await redis.xgroup('DELCONSUMER', keys.stream, INGEST_GROUP, String(consumer.name));
      }
    }
  }

  /** Waits until `arm`'s wake is called, or at once on close. */
  private untilWoken(arm: (wake: () => void) => void): Promise<void> {
    if (this.closing) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = () => {
        this.wakeOnClose.delete(wake);
        resolve();
      };
      this.wakeOnClose.add(wake);
      arm(wake);
    });
  }
}
