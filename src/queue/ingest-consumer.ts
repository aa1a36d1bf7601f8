import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { fieldsOf, INGEST_GROUP, type IngestEntry, type IngestKeys } from './ingest.js';

export interface IngestConsumerOptions {
  /** The workers' connection: acks, renewals, retries, give-ups. Reads and takeovers get a connection of their own. */
  redis: Redis;
  keys: IngestKeys;
  /** Entries processed at a time. */
  concurrency: number;
  /** JOB_LOCK_DURATION: an entry nobody has touched for this long is taken over (its worker died, or its retry is due). */
  lockMs: number;
  /** Processes one entry; `attempt` counts from 1, and a takeover is another attempt. A rejection is retried. */
  handle: (entry: IngestEntry, attempt: number) => Promise<void>;
  logger: Logger;
  /** Attempts before an entry is given up on; the first retry's delay, doubled each time up to lockMs. */
  retry?: { attempts: number; firstDelayMs: number };
}

/** A stored payload that no attempt can process: given up on at once. */
export class UnprocessableEntryError extends Error {
  override name = 'UnprocessableEntryError';
}

/** 3.5 to 7 minutes of retries with the default lock: a Redis refusing writes (maxmemory) has time to be mended. */
const RETRY = { attempts: 20, firstDelayMs: 500 };
/** Longest wait of one read; a takeover round is due at least this often. */
const READ_BLOCK_MS = 1_000;
/** Given-up entries kept for inspection (approximately: MAXLEN ~). */
const FAILED_KEPT = 1_000;

type StreamEntries = Array<[id: string, fields: string[] | null]>;

/**
 * Leaves the group only when the consumer has nothing pending and its process no longer says it
 * is alive: checked and done in one step, so nothing delivered to it meanwhile is dropped.
 * KEYS: the stream, the consumer's heartbeat key. ARGV: the group, the consumer.
 */
const FORGET_CONSUMER = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

/**
 * Moves an entry to the failed stream: the copy first, so that when it cannot be written (a full
 * Redis, a key of another type) the entry stays pending and is given up on again at its next takeover.
 * KEYS: the stream, the failed stream. ARGV: the group, the id, MAXLEN, then the copy's fields.
 */
const GIVE_UP = `
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', unpack(ARGV, 4))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
`;

/**
 * Reads the ingest stream as one consumer of the group, and does for its entries what bullmq's
 * workers did for jobs:
 * - at most `concurrency` entries are processed at a time, and each is deleted once processed;
 * - the entries in work are renewed every lockMs/2, so no other consumer takes them over;
 * - a failed entry is handed back to the group, due again after an exponential backoff: any
 *   consumer takes it over then, as its next attempt (Redis counts the attempts, so they add up
 *   across consumers and crashes); after the last attempt, or at once when it is unprocessable,
 *   it is moved to the failed stream with the reason;
 * - an entry left untouched for lockMs (its consumer's process died) is taken over the same way
 *   (processing it again is safe: the delivery queues deduplicate).
 * Reads and takeovers run in one loop, so together they never exceed `concurrency`.
 */
export class IngestConsumer {
  readonly name = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly reader: Redis;
  private readonly heartbeatKey: string;
  /** Entries being processed here, each settled once done with. */
  private readonly running = new Map<string, Promise<void>>();
  /**
   * The running entries still to be renewed. One leaves it before its ack, give-up or hand-back
   * is sent, so a renewal sent later on the same connection can never undo them.
   */
  private readonly renewable = new Set<string>();
  /** Ends the loop's current wait early: a slot freed, the connection back, closing. */
  private wake: (() => void) | undefined;
  private closing = false;
  private readonly reading: Promise<void>;
  private readonly renewals: NodeJS.Timeout;
  private renewing: Promise<void> = Promise.resolve();

  constructor(private readonly options: IngestConsumerOptions) {
    this.heartbeatKey = heartbeatKeyOf(options.keys, this.name);
    this.reader = options.redis.duplicate({
      // Commands fail at once while the connection is down (no offline queue, no resend): the loop
      // waits for the connection and tries again, and closing never waits for a command stuck offline.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // A read answers within READ_BLOCK_MS; a connection silent far longer is dead (a network partition).
      socketTimeout: READ_BLOCK_MS + 10_000,
    });
    // Outages are reported by the workers' connection.
    this.reader.on('error', () => {});
    this.reader.on('ready', () => this.wake?.());
    this.reading = this.readLoop();
    this.renewals = setInterval(this.renewNow, options.lockMs / 2);
    // After an outage, before the read loop takes over what looks untouched: this process's own entries.
    options.redis.on('ready', this.renewNow);
    this.renewNow();
  }

  private readonly renewNow = (): void => {
    this.renewing = this.renew();
  };

  /**
   * Stops reading and, unless `force`, waits for the entries being processed, then leaves the
   * group if nothing is pending here; not past Redis going away, nor past lockMs (a Redis that
   * stopped answering): other consumers take the entries over then.
   */
  async close(force = false): Promise<void> {
    this.closing = true;
    this.wake?.();
    this.reader.disconnect();
    await this.reading;
    const { redis, keys, lockMs } = this.options;
    if (force) {
      this.stopRenewing();
      return;
    }
    const deadline = Date.now() + lockMs;
    await this.whileAnswering(Promise.all(this.running.values()), deadline);
    this.stopRenewing();
    await this.whileAnswering(
      (async () => {
        await this.renewing;
        await redis.del(this.heartbeatKey);
        await redis.eval(FORGET_CONSUMER, 2, keys.stream, this.heartbeatKey, INGEST_GROUP, this.name);
      })().catch(() => {}),
      deadline,
    );
  }

  private stopRenewing(): void {
    clearInterval(this.renewals);
    this.options.redis.off('ready', this.renewNow);
  }

  private async readLoop(): Promise<void> {
    const { keys, concurrency, lockMs } = this.options;
    let groupReady = false;
    let takeoverDue = 0;
    let cleanupDue = Date.now() + lockMs;
    while (!this.closing) {
      const free = concurrency - this.running.size;
      if (free <= 0 || this.reader.status !== 'ready') {
        await this.pause();
        continue;
      }
      try {
        if (!groupReady) {
          await this.ensureGroup();
          groupReady = true;
        }
        if (Date.now() >= takeoverDue) {
          takeoverDue = Date.now() + READ_BLOCK_MS;
          await this.takeOver(free);
          continue;
        }
        if (Date.now() >= cleanupDue) {
          cleanupDue = Date.now() + lockMs;
          await this.forgetStoppedConsumers();
        }
        const block = Math.max(takeoverDue - Date.now(), 1);
        const reply = (await this.reader.xreadgroup('GROUP', INGEST_GROUP, this.name, 'COUNT', free, 'BLOCK', block, 'STREAMS', keys.stream, '>')) as
          | Array<[key: string, entries: StreamEntries]>
          | null;
        for (const [id, fields] of reply?.[0]?.[1] ?? []) this.start(id, fields, 1);
      } catch (error) {
        if (this.closing) break;
        // The stream (and so the group) is gone, e.g. a Redis that restarted without persistence.
        if (/NOGROUP|UNBLOCKED/.test((error as Error).message)) groupReady = false;
        else await this.pause(1_000);
      }
    }
  }

  /** From the first entry the stream holds: a group created after the webhook's first XADD misses nothing. */
  private async ensureGroup(): Promise<void> {
    try {
      await this.reader.xgroup('CREATE', this.options.keys.stream, INGEST_GROUP, '0', 'MKSTREAM');
    } catch (error) {
      if (!/BUSYGROUP/.test((error as Error).message)) throw error;
    }
  }

  /** Claims up to `free` entries untouched for lockMs: each is its next attempt, or given up on after the last. */
  private async takeOver(free: number): Promise<void> {
    const { keys, lockMs } = this.options;
    const { attempts } = this.options.retry ?? RETRY;
    // Never this process's own running entries, even when their renewal could not be written.
    const stale = ((await this.reader.xpending(keys.stream, INGEST_GROUP, 'IDLE', lockMs, '-', '+', free)) as Array<[string, string, number, number]>).filter(
      ([id]) => !this.running.has(id),
    );
    if (stale.length === 0) return;
    const attemptOf = new Map(stale.map(([id, , , deliveries]) => [id, deliveries + 1]));
    // Only entries still untouched that long are claimed: of two consumers taking over, one gets each.
    const claimed = (await this.reader.xclaim(keys.stream, INGEST_GROUP, this.name, lockMs, ...attemptOf.keys())) as StreamEntries;
    for (const [id, fields] of claimed) {
      const attempt = attemptOf.get(id)!;
      if (attempt > attempts && fields !== null) {
        await this.giveUp(entryOf(id, fields), `no attempt of ${attempts} succeeded (the last ones may have been cut short by a worker that stopped)`);
      } else {
        if (attempt > 1) this.options.logger.info({ entryId: id, attempt }, 'processing a webhook again: a retry, or its worker stopped');
        this.start(id, fields, attempt);
      }
    }
  }

  private start(id: string, fields: string[] | null, attempt: number): void {
    if (this.running.has(id)) return;
    // Deleted while pending (processed or given up on by a consumer meanwhile taken for dead): Redis
    // before 7 hands such an entry over without its fields; Redis 7 drops it from the pending list itself.
    if (fields === null) {
      void this.ack(id).catch(() => {});
      return;
    }
    this.renewable.add(id);
    const done = this.process(entryOf(id, fields), attempt).finally(() => {
      this.running.delete(id);
      this.wake?.();
    });
    this.running.set(id, done);
  }

  private async process(entry: IngestEntry, attempt: number): Promise<void> {
    const { redis, keys, lockMs, logger } = this.options;
    const retry = this.options.retry ?? RETRY;
    try {
      await this.options.handle(entry, attempt);
      this.renewable.delete(entry.id);
      await this.ack(entry.id);
    } catch (error) {
      this.renewable.delete(entry.id);
      const final = error instanceof UnprocessableEntryError || attempt >= retry.attempts;
      // While Redis is away the failure repeats the outage the connection already reported.
      if (redis.status === 'ready') logger.error({ err: error, entryId: entry.id, attempt }, `webhook processing failed: ${final ? 'giving up' : 'will retry'}`);
      if (final) return this.giveUp(entry, error instanceof Error ? error.message : String(error));
      // Handed back to the group, untouched as if for lockMs minus the delay: due once the delay
      // has passed, for whichever consumer then takes it over. Not written: due after lockMs.
      const delay = Math.min(retry.firstDelayMs * 2 ** (attempt - 1), lockMs) * (0.5 + Math.random() / 2);
      await redis.xclaim(keys.stream, INGEST_GROUP, this.name, 0, entry.id, 'IDLE', Math.round(lockMs - delay), 'JUSTID').catch(() => {});
    }
  }

  private async ack(id: string): Promise<void> {
    const { stream } = this.options.keys;
    await this.options.redis.multi().xack(stream, INGEST_GROUP, id).xdel(stream, id).exec();
  }

  private async giveUp(entry: IngestEntry, reason: string): Promise<void> {
    const { redis, keys, logger } = this.options;
    const copy = ['id', entry.id, 'acceptedAt', String(entry.acceptedAt), 'reason', reason, 'body', entry.body];
    try {
      await redis.eval(GIVE_UP, 2, keys.stream, keys.failed, INGEST_GROUP, entry.id, FAILED_KEPT, ...copy);
      logger.error({ entryId: entry.id, reason }, `webhook given up on: kept in ${keys.failed}`);
    } catch (error) {
      // Not written: the entry stays pending, and its next takeover gives it up again.
      if (redis.status === 'ready') logger.error({ err: error, entryId: entry.id, reason }, 'webhook to give up on could not be moved to the failed stream; trying again later');
    }
  }

  /**
   * Marks the entries in work as touched now (JUSTID: no attempt counted), then this process as
   * alive. Apart, and the claim first: a Redis refusing writes (maxmemory) refuses the SET, not the XCLAIM.
   */
  private async renew(): Promise<void> {
    const { redis, keys, lockMs } = this.options;
    if (redis.status !== 'ready') return;
    const ids = [...this.renewable];
    const renewals = [
      ids.length > 0 ? redis.xclaim(keys.stream, INGEST_GROUP, this.name, 0, ...ids, 'JUSTID') : undefined,
      redis.set(this.heartbeatKey, '1', 'PX', lockMs * 3),
    ];
    for (const outcome of await Promise.allSettled(renewals)) {
      // No group yet (nothing stored so far), or Redis went away meanwhile: the next round tries again.
      if (outcome.status === 'rejected' && redis.status === 'ready' && !/NOGROUP/.test(String(outcome.reason))) {
        this.options.logger.warn({ err: outcome.reason }, 'renewing the webhooks in work failed');
      }
    }
  }

  /** Removes consumers of processes that stopped (crashed) with nothing pending: the group does not grow with every restart. */
  private async forgetStoppedConsumers(): Promise<void> {
    const { keys } = this.options;
    const consumers = ((await this.reader.call('XINFO', 'CONSUMERS', keys.stream, INGEST_GROUP)) as unknown[][]).map(fieldsOf);
    for (const { name, pending } of consumers) {
      if (name === this.name || Number(pending) > 0) continue;
      await this.reader.eval(FORGET_CONSUMER, 2, keys.stream, heartbeatKeyOf(keys, String(name)), INGEST_GROUP, String(name));
    }
  }

  /** Until woken (a slot freed, the connection back, closing), or `ms` passed. */
  private pause(ms?: number): Promise<void> {
    if (this.closing) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(() => this.wake?.(), ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** `work`, but not past Redis going away (the workers' connection would hold its commands until it came back), nor past `deadline`. */
  private async whileAnswering(work: Promise<unknown>, deadline: number): Promise<void> {
    if (this.options.redis.status !== 'ready') return;
    const controller = new AbortController();
    const { signal } = controller;
    await Promise.race([
      work,
      once(this.options.redis, 'close', { signal }).catch(() => {}),
      sleep(Math.max(deadline - Date.now(), 0), undefined, { signal }).catch(() => {}),
    ]);
    controller.abort();
  }
}

/** Renewed by a consumer's process while it runs, expiring after 3 lockMs: once gone, that process has stopped. */
function heartbeatKeyOf(keys: IngestKeys, consumer: string): string {
  return `${keys.stream}:consumer:${consumer}`;
}

function entryOf(id: string, fields: string[]): IngestEntry {
  const { acceptedAt, body } = fieldsOf(fields);
  return { id, acceptedAt: Number(acceptedAt), body: String(body) };
}
