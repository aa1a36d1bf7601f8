import type { Cluster, Redis } from 'ioredis';
import type { NormalizedAlert } from '../alerts/types.js';
import { alertsTag } from './keys.js';

const RETENTION_SECONDS = 7 * 24 * 3600;
const MAX_LISTED = 1_000;

export interface AlertRecord {
  alert: NormalizedAlert;
  updatedAt: string;
  /** The incident the alert belongs to; null when none (a resolve of an alert no open incident knew). */
  incident: string | null;
}

/**
 * The latest known state of each alert, for the AlertCenter: one JSON value per fingerprint with a
 * retention, indexed by update time. Display state only; deliveries never read it.
 */
export class AlertState {
  /** Every key under one hash tag (src/queue/keys.ts): the script below touches several at once. */
  private readonly prefix: string;

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

  /** Each alert's `version`, the state the script compares against. */
  private get order() {
    return `${this.prefix}:alerts:by-version`;
  }

  /**
   * Records the state of a webhook's alerts in one round trip, whatever their number. Copies of an
   * alert arrive out of order and are processed concurrently (HA pairs, retries, several workers):
   * the script keeps the newest state by `version`, so an older one never replaces a newer one.
   */
  async recordAll(entries: ReadonlyArray<readonly [NormalizedAlert, string | null]>): Promise<void> {
    if (entries.length === 0) return;
    const now = Date.now();
    const newest = new Map<string, { version: number; record: AlertRecord }>();
    for (const [alert, incident] of entries) {
      const candidate = { version: version(alert), record: { alert, updatedAt: new Date(now).toISOString(), incident } };
      const current = newest.get(alert.fingerprint);
      if (!current || candidate.version >= current.version) newest.set(alert.fingerprint, candidate);
    }
    const states = [...newest];
    await this.redis.eval(
      RECORD_NEWEST,
      2 + states.length,
      this.index,
      this.order,
      ...states.map(([fingerprint]) => this.key(fingerprint)),
      now,
      RETENTION_SECONDS,
      ...states.flatMap(([fingerprint, { version, record }]) => [fingerprint, version, JSON.stringify(record)]),
    );
  }

  async get(fingerprint: string): Promise<AlertRecord | null> {
    const text = await this.redis.get(this.key(fingerprint));
    return text ? (JSON.parse(text) as AlertRecord) : null;
  }

  /** Most recently updated first. */
  async list(filter: { status?: string; limit?: number } = {}): Promise<AlertRecord[]> {
    const limit = Math.min(filter.limit ?? 100, MAX_LISTED);
    const fingerprints = await this.redis.zrevrange(this.index, 0, MAX_LISTED - 1);
    if (fingerprints.length === 0) return [];
    const values = await this.redis.mget(fingerprints.map((f) => this.key(f)));
    return values
      .filter((value): value is string => value !== null)
      .map((value) => JSON.parse(value) as AlertRecord)
      .filter((record) => !filter.status || record.alert.status === filter.status)
      .slice(0, limit);
  }
}

/**
 * Orders the states of one alert: a later start is newer, and at the same start, resolved is newer
 * than firing (a late firing copy must not undo a resolve). Exact in a double, as Redis scores are.
 */
function version(alert: NormalizedAlert): number {
  return 2 * Date.parse(alert.startsAt) + (alert.status === 'resolved' ? 1 : 0);
}

/**
 * KEYS: the index by update time, the index by version, then one alert key per fingerprint.
 * ARGV: now (ms), retention (s), then per alert: fingerprint, version, record (JSON).
 * Also forgets alerts whose last update is older than the retention (their keys have expired).
 */
const RECORD_NEWEST = `
local now, retention = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 3, #KEYS do
  local at = 3 + (i - 3) * 3
  local fingerprint, version = ARGV[at], tonumber(ARGV[at + 1])
  local current = redis.call('ZSCORE', KEYS[2], fingerprint)
  if not current or version >= tonumber(current) then
    redis.call('SET', KEYS[i], ARGV[at + 2], 'EX', retention)
    redis.call('ZADD', KEYS[1], now, fingerprint)
    redis.call('ZADD', KEYS[2], version, fingerprint)
  end
end
for _, fingerprint in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - retention * 1000)) do
  redis.call('ZREM', KEYS[1], fingerprint)
  redis.call('ZREM', KEYS[2], fingerprint)
end
`;
