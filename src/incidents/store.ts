import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { incidentsTag } from '../queue/keys.js';
import { type ReplicaAck, ReplicaAckError } from '../queue/replica-ack.js';
import type { Applied, KnownMarks } from './apply.js';
import type { AlertMark, Incident, IncidentState, TimelineEvent, Told } from './types.js';

/** A weekly review reads five weeks back; Redis forgets an incident this long after its last change. */
export const INCIDENT_RETENTION_MS = 40 * 24 * 3_600_000;
/** The newest timeline entries kept per incident: a flapping incident cannot grow without bound. */
const TIMELINE_LIMIT = 500;
/** Optimistic writes retried this often before giving up (the queue retries the webhook then). */
const MAX_CONFLICTS = 50;

export interface IncidentFilter {
  state?: 'open' | 'resolved';
  slo?: string;
  limit?: number;
}

/** Incident keys whose last pointer a store remembers; beyond, it starts over (one more round trip each). */
const POINTERS_REMEMBERED = 10_000;

interface IncidentWithMarks {
  incident: Incident | null;
  seq: number;
  known: KnownMarks;
}

export class IncidentConflictError extends Error {
  constructor(key: string) {
    super(`incident ${key}: too many concurrent updates, will retry`);
    this.name = 'IncidentConflictError';
  }
}

/**
 * Incidents in Redis, the single source of truth of their state:
 * - `incident:<id>`: a hash of the document (`doc`, JSON) and its write counter (`seq`);
 * - `incident-key:<key>`: the latest incident of an incident key;
 * - `incident:<id>:alerts`: the mark of each of its alerts (state and version), by fingerprint;
 * - `incident:<id>:timeline`: a list of events, newest last; `incident:<id>:told`: the notification
 *   log, a hash of what each receiver was told; `incident:<id>:attempts`: syncs started and not recorded;
 * - `incidents` (by opening time), `incidents:open`, and `incidents:due` (when time next changes one);
 *   `incidents:silenced`: when to look up a silenced incident's alerts in Alertmanager next.
 *
 * Every change is computed from the stored document by a pure function (apply.ts) and written with
 * a compare-and-set script on `seq`: a concurrent writer makes the update start over from what it
 * wrote, so no update is lost and none is applied to a stale copy.
 */
export class IncidentStore {
  /** Every key under one hash tag (src/queue/keys.ts): the scripts below touch several at once. */
  private readonly prefix: string;
  /** The incident each key pointed to when this store last read it (see readByKey). */
  private readonly lastPointers = new Map<string, string>();

  constructor(
    private readonly redis: Redis | Cluster,
    prefix: string,
    /**
     * REDIS_MIN_REPLICAS_ACK on the workers' side: a sync tells a channel only once the incident it
     * read and its attempt mark are on the replicas, so a failover cannot make it forget what it
     * sent. Waited for at most REDIS_REPLICA_ACK_TIMEOUT: with too few replicas a page still goes
     * out (`onShortfall` says so), since a page held back for want of a replica helps nobody.
     */
    private readonly replicas?: { ack: ReplicaAck; onShortfall: (error: Error) => void },
  ) {
    this.prefix = incidentsTag(prefix);
  }

  private doc = (id: string) => `${this.prefix}:incident:${id}`;
  private pointer = (key: string) => `${this.prefix}:incident-key:${key}`;
  private timelineKey = (id: string) => `${this.prefix}:incident:${id}:timeline`;
  private toldKey = (id: string) => `${this.prefix}:incident:${id}:told`;
  private attemptsKey = (id: string) => `${this.prefix}:incident:${id}:attempts`;
  private failingKey = (id: string) => `${this.prefix}:incident:${id}:failing`;
  private claimKey = (id: string, receiver: string) => `${this.prefix}:incident:${id}:claim:${receiver}`;
  private marksKey = (id: string) => `${this.prefix}:incident:${id}:alerts`;
  private get index() {
    return `${this.prefix}:incidents`;
  }
  private get openIndex() {
    return `${this.prefix}:incidents:open`;
  }
  private get dueIndex() {
    return `${this.prefix}:incidents:due`;
  }
  private get silencedIndex() {
    return `${this.prefix}:incidents:silenced`;
  }

  /**
   * Updates the latest incident of `key` with `compute` (given it, or null when the key has none,
   * and the marks it holds for `fingerprints`), atomically: re-read and recompute on a concurrent
   * write. Returns what was written, or null.
   */
  async updateByKey(
    key: string,
    fingerprints: readonly string[],
    compute: (current: Incident | null, known: KnownMarks) => Applied | null,
    dueAt: (incident: Incident) => number | null,
  ): Promise<Applied | null> {
    for (let i = 0; i < MAX_CONFLICTS; i++) {
      const { currentId, ...current } = await this.readByKey(key, fingerprints);
      const applied = compute(current.incident, current.known);
      if (applied === null) return null;
      // A new incident starts its own counter; the pointer check keeps two replicas from opening two.
      const seq = applied.incident.id === currentId ? current.seq : 0;
      if (await this.write(key, currentId, seq, applied, dueAt(applied.incident))) return applied;
    }
    throw new IncidentConflictError(key);
  }

  /**
   * The latest incident of `key` with the marks of `fingerprints`. The incident the key pointed to
   * last time is read in the same round trip as the pointer: a storm updates few keys again and
   * again, and saves a round trip per update. A pointer that moved on costs one more.
   */
  private async readByKey(key: string, fingerprints: readonly string[]): Promise<{ currentId: string } & IncidentWithMarks> {
    const guess = this.lastPointers.get(key);
    const [pointer, guessed] = await Promise.all([this.redis.get(this.pointer(key)), guess === undefined ? null : this.readWithMarks(guess, fingerprints)]);
    const currentId = pointer ?? '';
    if (this.lastPointers.size >= POINTERS_REMEMBERED) this.lastPointers.clear();
    this.lastPointers.set(key, currentId);
    if (currentId === '') return { currentId, incident: null, seq: 0, known: {} };
    return { currentId, ...(guess === currentId && guessed !== null ? guessed : await this.readWithMarks(currentId, fingerprints)) };
  }

  /**
   * An incident with the marks of some of its alerts, in one round trip: both commands leave in one
   * socket write (src/queue/redis.ts batchTurns; cheaper than an ioredis pipeline object). Not a
   * snapshot: a write between the two reads moves `seq` on, and the compare-and-set write that follows fails.
   */
  private async readWithMarks(id: string, fingerprints: readonly string[]): Promise<IncidentWithMarks> {
    const [[doc, seq], values] = await Promise.all([
      this.redis.hmget(this.doc(id), 'doc', 'seq'),
      fingerprints.length === 0 ? [] : this.redis.hmget(this.marksKey(id), ...fingerprints),
    ]);
    if (doc == null) return { incident: null, seq: Number(seq ?? 0), known: {} };
    const known: Record<string, AlertMark> = {};
    values.forEach((value, i) => {
      if (value !== null) known[fingerprints[i]!] = JSON.parse(value) as AlertMark;
    });
    return { incident: JSON.parse(doc) as Incident, seq: Number(seq ?? 0), known };
  }

  /** The marks of an incident's alerts, at most `limit` of them (an API view; a storm may hold thousands). */
  async alerts(id: string, limit = 1_000): Promise<Record<string, AlertMark>> {
    const alerts: Record<string, AlertMark> = {};
    let cursor = '0';
    do {
      const [next, entries] = await this.redis.hscan(this.marksKey(id), cursor, 'COUNT', 500);
      for (let i = 0; i + 1 < entries.length && Object.keys(alerts).length < limit; i += 2) {
        alerts[entries[i]!] = JSON.parse(entries[i + 1]!) as AlertMark;
      }
      cursor = next;
    } while (cursor !== '0' && Object.keys(alerts).length < limit);
    return alerts;
  }

  /** `updateByKey` for a known incident (time passing, an acknowledgement). */
  async updateById(id: string, compute: (current: Incident) => Applied | null, dueAt: (incident: Incident) => number | null): Promise<Applied | null> {
    for (let i = 0; i < MAX_CONFLICTS; i++) {
      const { incident, seq } = await this.read(id);
      if (incident === null) return null;
      const applied = compute(incident);
      if (applied === null) return null;
      const pointer = (await this.redis.get(this.pointer(incident.key))) ?? '';
      if (await this.write(incident.key, pointer, seq, applied, dueAt(applied.incident), pointer !== id)) return applied;
    }
    throw new IncidentConflictError(id);
  }

  async get(id: string): Promise<Incident | null> {
    return (await this.read(id)).incident;
  }

  async getMany(ids: readonly string[]): Promise<Incident[]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hget(this.doc(id), 'doc');
    const replies = (await pipeline.exec()) ?? [];
    return replies.flatMap(([, doc]) => (typeof doc === 'string' ? [JSON.parse(doc) as Incident] : []));
  }

  /** Newest first; open ones first when no state is asked for. */
  async list(filter: IncidentFilter = {}): Promise<Incident[]> {
    const limit = Math.min(filter.limit ?? 100, 1_000);
    const matches = (incident: Incident) =>
      (filter.slo === undefined || incident.slo === filter.slo) &&
      (filter.state === undefined || (filter.state === 'resolved') === (incident.state === 'resolved'));
    const found: Incident[] = [];
    const sources = filter.state === 'resolved' ? [this.index] : filter.state === 'open' ? [this.openIndex] : [this.openIndex, this.index];
    const seen = new Set<string>();
    for (const source of sources) {
      for (let start = 0; found.length < limit; start += 200) {
        const ids = (await this.redis.zrevrange(source, start, start + 199)).filter((id) => !seen.has(id));
        if (ids.length === 0) break;
        for (const id of ids) seen.add(id);
        for (const incident of await this.getMany(ids)) if (matches(incident) && found.length < limit) found.push(incident);
      }
    }
    return found;
  }

  /** Incidents opened in [from, to) (epoch ms), oldest first: what a weekly review reads. */
  async openedBetween(from: number, to: number): Promise<Incident[]> {
    const ids = await this.redis.zrangebyscore(this.index, from, `(${to}`);
    return this.getMany(ids);
  }

  async timeline(id: string): Promise<TimelineEvent[]> {
    const entries = await this.redis.lrange(this.timelineKey(id), 0, -1);
    return entries.map((entry) => JSON.parse(entry) as TimelineEvent);
  }

  async appendTimeline(id: string, events: readonly TimelineEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.redis
      .multi()
      .rpush(this.timelineKey(id), ...events.map((event) => JSON.stringify(event)))
      .ltrim(this.timelineKey(id), -TIMELINE_LIMIT, -1)
      .pexpire(this.timelineKey(id), INCIDENT_RETENTION_MS)
      .exec();
  }

  /** The notification log of an incident: what each receiver was told. */
  async told(id: string): Promise<Record<string, Told>> {
    const entries = await this.redis.hgetall(this.toldKey(id));
    return Object.fromEntries(Object.entries(entries).map(([receiver, json]) => [receiver, JSON.parse(json) as Told]));
  }

  /**
   * For a list of incidents in one round trip: each one's notification log and its newest `tail`
   * timeline entries (enough to tell a receiver's last failure): what the AlertCenter page shows per row.
   */
  async toldAndRecent(ids: readonly string[], tail: number): Promise<Map<string, { told: Record<string, Told>; recent: TimelineEvent[] }>> {
    const result = new Map<string, { told: Record<string, Told>; recent: TimelineEvent[] }>();
    if (ids.length === 0) return result;
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.toldKey(id)).lrange(this.timelineKey(id), -tail, -1);
    const replies = (await pipeline.exec()) ?? [];
    ids.forEach((id, i) => {
      const told = (replies[2 * i]?.[1] ?? {}) as Record<string, string>;
      const recent = (replies[2 * i + 1]?.[1] ?? []) as string[];
      result.set(id, {
        told: Object.fromEntries(Object.entries(told).map(([receiver, json]) => [receiver, JSON.parse(json) as Told])),
        recent: recent.map((entry) => JSON.parse(entry) as TimelineEvent),
      });
    });
    return result;
  }

  async toldOne(id: string, receiver: string): Promise<Told | null> {
    const json = await this.redis.hget(this.toldKey(id), receiver);
    return json === null ? null : (JSON.parse(json) as Told);
  }

  /**
   * Records what a receiver was told, with its timeline entries, unless the log already holds a
   * newer rev (a stalled sync that finished late): what a channel was told never goes backwards.
   */
  async recordTold(id: string, receiver: string, told: Told, events: readonly TimelineEvent[]): Promise<boolean> {
    const written = await this.redis.eval(
      RECORD_TOLD,
      3,
      this.toldKey(id),
      this.timelineKey(id),
      this.attemptsKey(id),
      receiver,
      told.rev,
      JSON.stringify(told),
      INCIDENT_RETENTION_MS,
      TIMELINE_LIMIT,
      ...events.map((event) => JSON.stringify(event)),
    );
    return written === 1;
  }

  /**
   * Marks a sync of (incident, receiver) as started, and says whether an earlier one started and
   * was never recorded (a crash or a timeout): its notification may have reached the channel.
   */
  async startAttempt(id: string, receiver: string): Promise<boolean> {
    const earlier = await this.redis.hget(this.attemptsKey(id), receiver);
    await this.redis.multi().hset(this.attemptsKey(id), receiver, Date.now()).pexpire(this.attemptsKey(id), INCIDENT_RETENTION_MS).exec();
    // Too few replicas in time: go on. No answer at all (the master gone): the mark may be lost, so do not send.
    await this.replicas?.ack.confirm(this.attemptsKey(id)).catch((error: unknown) => {
      if (!(error instanceof ReplicaAckError)) throw error;
      this.replicas!.onShortfall(error);
    });
    return earlier !== null;
  }

  /**
   * Claims the sync of (incident, receiver) for `ms`: the token, or null while another run holds
   * it. bullmq runs one sync of a pair at a time, but not across a failover: a job whose lock was
   * on the lost master runs again on the new one while its first run is still going.
   */
  async claimSync(id: string, receiver: string, ms: number): Promise<string | null> {
    const token = randomUUID();
    return (await this.redis.set(this.claimKey(id, receiver), token, 'PX', ms, 'NX')) === 'OK' ? token : null;
  }

  /** Extends a claim this run holds by `ms` from now; false when it no longer holds it (it expired, or the master that had it is gone). */
  async extendClaim(id: string, receiver: string, token: string, ms: number): Promise<boolean> {
    return (await this.redis.eval(EXTEND_CLAIM, 1, this.claimKey(id, receiver), token, ms)) === 1;
  }

  async releaseClaim(id: string, receiver: string, token: string): Promise<void> {
    await this.redis.eval(RELEASE_CLAIM, 1, this.claimKey(id, receiver), token);
  }

  /** A failure the channel answered (so nothing reached it): the next attempt is not uncertain. */
  async clearAttempt(id: string, receiver: string): Promise<void> {
    await this.redis.hdel(this.attemptsKey(id), receiver);
  }

  /** The receiver's last attempt failed: a later sync that sends or finds nothing to send says it settled. */
  async markFailing(id: string, receiver: string): Promise<void> {
    await this.redis.multi().hset(this.failingKey(id), receiver, Date.now()).pexpire(this.failingKey(id), INCIDENT_RETENTION_MS).exec();
  }

  /** The receivers whose last attempt failed: retried by the queue, or dead-lettered. */
  async failingReceivers(id: string): Promise<Set<string>> {
    return new Set(await this.redis.hkeys(this.failingKey(id)));
  }

  /** Forgets that the receiver's last attempt failed; true when it had. */
  async settleFailing(id: string, receiver: string): Promise<boolean> {
    return (await this.redis.hdel(this.failingKey(id), receiver)) === 1;
  }

  /** Incidents that time changes by `now`, oldest due first. */
  async due(now: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.dueIndex, '-inf', now, 'LIMIT', 0, limit);
  }

  /** Sets when time next changes the incident, or forgets it (null). */
  async setDue(id: string, at: number | null): Promise<void> {
    if (at === null) await this.redis.zrem(this.dueIndex, id);
    else await this.redis.zadd(this.dueIndex, at, id);
  }

  /** Brings the incident's due time forward to `at` when that is earlier (a reminder). */
  async dueNoLaterThan(id: string, at: number): Promise<void> {
    await this.redis.zadd(this.dueIndex, 'LT', at, id);
  }

  /** Silenced incidents whose alerts are due to be looked up in Alertmanager by `now`. */
  async silenceChecksDue(now: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.silencedIndex, '-inf', now, 'LIMIT', 0, limit);
  }

  /** When to look up a silenced incident's alerts next, or forget it (null): it is silenced no more. */
  async setSilenceCheck(id: string, at: number | null): Promise<void> {
    if (at === null) await this.redis.zrem(this.silencedIndex, id);
    else await this.redis.zadd(this.silencedIndex, at, id);
  }

  async counts(): Promise<{ open: number; total: number }> {
    const [open, total] = await Promise.all([this.redis.zcard(this.openIndex), this.redis.zcard(this.index)]);
    return { open, total };
  }

  private async read(id: string): Promise<{ incident: Incident | null; seq: number }> {
    const [doc, seq] = await this.redis.hmget(this.doc(id), 'doc', 'seq');
    return { incident: doc == null ? null : (JSON.parse(doc) as Incident), seq: Number(seq ?? 0) };
  }

  private async write(
    key: string,
    expectedPointer: string,
    expectedSeq: number,
    applied: Applied,
    dueAt: number | null,
    keepPointer = false,
  ): Promise<boolean> {
    const { incident, events, marks } = applied;
    const now = Date.now();
    const written = await this.redis.eval(
      WRITE_INCIDENT,
      7,
      this.pointer(key),
      this.doc(incident.id),
      this.timelineKey(incident.id),
      this.index,
      this.openIndex,
      this.dueIndex,
      this.marksKey(incident.id),
      expectedPointer,
      expectedSeq,
      incident.id,
      JSON.stringify(incident),
      stateRank(incident.state),
      Date.parse(incident.openedAt),
      dueAt ?? '',
      INCIDENT_RETENTION_MS,
      now,
      TIMELINE_LIMIT,
      keepPointer ? 1 : 0,
      Object.keys(marks).length,
      ...Object.entries(marks).flatMap(([fingerprint, mark]) => [fingerprint, JSON.stringify(mark)]),
      ...events.map((event) => JSON.stringify(event)),
    );
    return written === 1;
  }
}

const stateRank = (state: IncidentState) => (state === 'resolved' ? 'resolved' : 'open');

/**
 * KEYS: the key's pointer, the incident's hash, its timeline, the index by opening time, the open
 * index, the due index, its alert marks. ARGV: expected pointer ('' for none), expected seq (0 for a
 * new incident), id, document, 'open'|'resolved', opened at (ms), due at (ms or ''), retention (ms),
 * now (ms), timeline limit, keep pointer (1: an older incident of the key, whose pointer moved on),
 * the number of marks, then fingerprint and mark pairs, then the events.
 * Returns 0 when another writer came first.
 */
const WRITE_INCIDENT = `
local pointer = redis.call('GET', KEYS[1]) or ''
if ARGV[11] ~= '1' and pointer ~= ARGV[1] then return 0 end
local seq = tonumber(redis.call('HGET', KEYS[2], 'seq') or '0')
if seq ~= tonumber(ARGV[2]) then return 0 end
local retention, now = tonumber(ARGV[8]), tonumber(ARGV[9])
redis.call('HSET', KEYS[2], 'seq', seq + 1, 'doc', ARGV[4])
redis.call('PEXPIRE', KEYS[2], retention)
if ARGV[11] ~= '1' then redis.call('SET', KEYS[1], ARGV[3], 'PX', retention) end
redis.call('ZADD', KEYS[4], ARGV[6], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - retention)
if ARGV[5] == 'resolved' then redis.call('ZREM', KEYS[5], ARGV[3]) else redis.call('ZADD', KEYS[5], ARGV[6], ARGV[3]) end
-- Only ever brought forward here (a reminder due earlier stays), and never dropped, even on a resolve:
-- the tick that looks at it next sets the exact time, or drops it once every receiver was told.
if ARGV[7] ~= '' then redis.call('ZADD', KEYS[6], 'LT', ARGV[7], ARGV[3]) end
local marks = tonumber(ARGV[12])
local at = 13
for _ = 1, marks do
  redis.call('HSET', KEYS[7], ARGV[at], ARGV[at + 1])
  at = at + 2
end
redis.call('PEXPIRE', KEYS[7], retention)
if at <= #ARGV then
  for i = at, #ARGV do redis.call('RPUSH', KEYS[3], ARGV[i]) end
  redis.call('LTRIM', KEYS[3], -tonumber(ARGV[10]), -1)
  redis.call('PEXPIRE', KEYS[3], retention)
end
return 1
`;

/** KEYS: claim; ARGV: token, ms. */
const EXTEND_CLAIM = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

/** KEYS: claim; ARGV: token. */
const RELEASE_CLAIM = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * KEYS: the told hash, the timeline, the attempts hash. ARGV: receiver, rev, told (JSON),
 * retention (ms), timeline limit, events... Keeps the newer of two logs; always records the events.
 */
const RECORD_TOLD = `
local written = 0
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current or tonumber(cjson.decode(current).rev) <= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  written = 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('HDEL', KEYS[3], ARGV[1])
if #ARGV > 5 then
  for i = 6, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[5]), -1)
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
return written
`;
