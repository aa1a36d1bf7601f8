import type { Redis } from 'ioredis';
import type { NormalizedAlert } from '../alerts/types.js';

const RETENTION_SECONDS = 7 * 24 * 3600;
const MAX_LISTED = 1_000;

export interface AlertRecord {
  alert: NormalizedAlert;
  updatedAt: string;
  receivers: string[];
}

/**
 * The latest known state of each alert, for the AlertCenter: one JSON value per fingerprint with a
 * retention, indexed by update time. Display state only; deliveries never read it.
 */
export class AlertState {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(fingerprint: string) {
    return `${this.prefix}:alert:${fingerprint}`;
  }

  private get index() {
    return `${this.prefix}:alerts:by-update`;
  }

  /**
   * Records the state of a webhook's alerts in two round trips (one read, one write), whatever
   * their number. Copies of one alert are applied in order, so the newer state wins.
   */
  async recordAll(entries: ReadonlyArray<readonly [NormalizedAlert, string[]]>): Promise<void> {
    if (entries.length === 0) return;
    const fingerprints = [...new Set(entries.map(([alert]) => alert.fingerprint))];
    const stored = await this.redis.mget(fingerprints.map((f) => this.key(f)));
    const latest = new Map<string, NormalizedAlert>();
    fingerprints.forEach((f, i) => {
      if (stored[i]) latest.set(f, (JSON.parse(stored[i]!) as AlertRecord).alert);
    });
    const now = Date.now();
    const winners = new Map<string, AlertRecord>();
    for (const [alert, receivers] of entries) {
      const current = latest.get(alert.fingerprint);
      // HA copies and retries arrive out of order: never let an older state overwrite a newer one.
      if (current && isOlder(alert, current)) continue;
      latest.set(alert.fingerprint, alert);
      winners.set(alert.fingerprint, { alert, updatedAt: new Date(now).toISOString(), receivers });
    }
    if (winners.size === 0) return;
    const write = this.redis.multi();
    for (const [fingerprint, record] of winners) {
      write.set(this.key(fingerprint), JSON.stringify(record), 'EX', RETENTION_SECONDS).zadd(this.index, now, fingerprint);
    }
    await write.zremrangebyscore(this.index, '-inf', now - RETENTION_SECONDS * 1000).exec();
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

function isOlder(candidate: NormalizedAlert, current: NormalizedAlert): boolean {
  const a = Date.parse(candidate.startsAt);
  const b = Date.parse(current.startsAt);
  if (a !== b) return a < b;
  return candidate.status === 'firing' && current.status === 'resolved';
}
