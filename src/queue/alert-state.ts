import type { Cluster, Redis } from 'ioredis';
import type { NormalizedAlert } from '../alerts/types.js';
import { alertVersion } from '../incidents/apply.js';
import { alertsTag } from './keys.js';

const RETENTION_SECONDS = 7 * 24 * 3600;
const MAX_LISTED = 1_000;

/** What the AlertCenter shows of an alert: which one it is, its state and tier. Its figures and texts are its incident's. */
export type ListedAlert = Pick<
  NormalizedAlert,
  'fingerprint' | 'alertname' | 'status' | 'startsAt' | 'endsAt' | 'severity' | 'slo' | 'service' | 'longWindow' | 'labels'
>;

export interface AlertRecord {
  alert: ListedAlert;
  updatedAt: string;
  /** The incident the alert belongs to; null when none (a resolve of an alert no open incident knew). */
  incident: string | null;
}

/** As stored: the version (incidents/apply.ts alertVersion, an integer) leads, so that the script reads it without decoding the record. */
interface StoredRecord extends AlertRecord {
  version: number;
}

/**
 * The latest known state of each alert, for the AlertCenter: one JSON value per fingerprint with a
 * retention, indexed by update time. Display state only; deliveries never read it.
 */
export class AlertState {
  /** Every key under one hash tag (src/queue/keys.ts): the script below touches several at once. */
  private readonly prefix: string;
  /** The newest record of each alert waiting for the write in flight to end, and who waits for it. */
  private pending = new Map<string, StoredRecord>();
  private waiting: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  private writing = false;

  constructor(
    private readonly redis: Redis | Cluster,
    prefix: string,
  ) {
    this.prefix = alertsTag(prefix);
  }

  private key(fingerprint: string) {
    return `${this.prefix}:alert:${fingerprint}`;
  }

  private get index() {
    return `${this.prefix}:alerts:by-update`;
  }

  /**
   * Records the state of a webhook's alerts. Copies of an alert arrive out of order and are
   * processed concurrently (HA pairs, retries, several workers): the script keeps the newest state
   * by `version`, so an older one never replaces a newer one. The records of webhooks processed
   * while a write is in flight go together in the next write: one round trip for all of them.
   */
  recordAll(entries: ReadonlyArray<readonly [NormalizedAlert, string | null]>): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    const updatedAt = new Date().toISOString();
    for (const [alert, incident] of entries) {
      const candidate: StoredRecord = { version: alertVersion(alert), alert: listed(alert), updatedAt, incident };
      const current = this.pending.get(alert.fingerprint);
      if (!current || candidate.version >= current.version) this.pending.set(alert.fingerprint, candidate);
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (!this.writing) void this.writeWhilePending();
    });
  }

  private async writeWhilePending(): Promise<void> {
    this.writing = true;
    while (this.waiting.length > 0) {
      const records = [...this.pending.values()];
      const waiting = this.waiting;
      this.pending = new Map();
      this.waiting = [];
      try {
        await this.write(records);
        for (const { resolve } of waiting) resolve();
      } catch (error) {
        for (const { reject } of waiting) reject(error);
      }
    }
    this.writing = false;
  }

  private async write(records: readonly StoredRecord[]): Promise<void> {
    await this.redis.eval(
      RECORD_NEWEST,
      1 + records.length,
      this.index,
      ...records.map((record) => this.key(record.alert.fingerprint)),
      Date.now(),
      RETENTION_SECONDS,
      ...records.flatMap((record) => [record.alert.fingerprint, record.version, JSON.stringify(record)]),
    );
  }

  async get(fingerprint: string): Promise<AlertRecord | null> {
    const text = await this.redis.get(this.key(fingerprint));
    return text ? shown(text) : null;
  }

  /** Most recently updated first. */
  async list(filter: { status?: string; limit?: number } = {}): Promise<AlertRecord[]> {
    const limit = Math.min(filter.limit ?? 100, MAX_LISTED);
    const fingerprints = await this.redis.zrevrange(this.index, 0, MAX_LISTED - 1);
    if (fingerprints.length === 0) return [];
    const values = await this.redis.mget(fingerprints.map((f) => this.key(f)));
    return values
      .filter((value): value is string => value !== null)
      .map(shown)
      .filter((record) => !filter.status || record.alert.status === filter.status)
      .slice(0, limit);
  }
}

function listed(alert: NormalizedAlert): ListedAlert {
  const { fingerprint, alertname, status, startsAt, endsAt, severity, slo, service, longWindow, labels } = alert;
  return { fingerprint, alertname, status, startsAt, endsAt, severity, slo, service, longWindow, labels };
}

function shown(text: string): AlertRecord {
  const { alert, updatedAt, incident } = JSON.parse(text) as StoredRecord;
  return { alert, updatedAt, incident };
}

/**
 * KEYS: the index by update time, then one alert key per fingerprint.
 * ARGV: now (ms), retention (s), then per alert: fingerprint, version, record (JSON, `{"version":` first).
 * The stored version is read from the head of the stored record; a record without one is replaced.
 * Also forgets alerts whose last update is older than the retention (their keys have expired).
 */
const RECORD_NEWEST = `
local now, retention = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 2, #KEYS do
  local at = 3 + (i - 2) * 3
  local fingerprint, version = ARGV[at], tonumber(ARGV[at + 1])
  local current = tonumber(string.match(redis.call('GETRANGE', KEYS[i], 0, 31), '^{"version":(%d+)'))
  if not current or version >= current then
    redis.call('SET', KEYS[i], ARGV[at + 2], 'EX', retention)
    redis.call('ZADD', KEYS[1], now, fingerprint)
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - retention * 1000)
`;
