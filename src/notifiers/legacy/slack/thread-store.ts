import type { Redis } from 'ioredis';
import { episodeId } from '../episode.js';
import type { Notification } from '../../types.js';

/** Where the firing message of an episode lives, so the resolve can update it in place. */
export interface SlackThread {
  /** Channel id as chat.postMessage answered it: chat.update takes ids, not names. */
  channel: string;
  ts: string;
  /** Set once the resolved update and thread reply went out, so a retried resolve adds nothing. */
  resolved?: true;
}

/** Long enough for any alert that is still firing to resolve; Redis forgets the rest. */
const THREAD_TTL_SECONDS = 30 * 24 * 3600;

export class SlackThreadStore {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
  ) {}

  async get(notification: Notification): Promise<SlackThread | null> {
    const stored = await this.redis.get(this.key(notification));
    return stored === null ? null : (JSON.parse(stored) as SlackThread);
  }

  async save(notification: Notification, thread: SlackThread): Promise<void> {
    await this.redis.set(this.key(notification), JSON.stringify(thread), 'EX', THREAD_TTL_SECONDS);
  }

  key(notification: Notification): string {
    return `${this.keyPrefix}:slack:thread:${episodeId(notification)}`;
  }
}
