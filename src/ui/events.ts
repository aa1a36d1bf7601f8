import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import { Cluster } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import type { RedisClient } from '../queue/redis.js';

/**
 * Live updates of the AlertCenter page. Whatever changes an incident (the ingest worker, the
 * ticker, a sync, an acknowledgement) calls `onIncidentChanged(id)`; the ids are published on one
 * RedisClient pub/sub channel, and every api replica fans them out to its open pages as server-sent events
 * (`GET /api/v1/events`). Pub/sub loses what is published while a replica is disconnected: the hub
 * then tells its pages to `resync` (reload every section), and so does a page that reconnects.
 */

export const eventsChannel = (prefix: string) => `${prefix}:ui:events`;

/** Ids gathered for this long before one PUBLISH: a storm of changes to a few incidents costs a few publishes. */
const PUBLISH_BATCH_MS = 100;

export type IncidentChanged = (id: string) => void;

/**
 * The publish helper the pipeline gets as a dependency. Fire and forget: a page missing an update
 * must never fail or slow a webhook; the page reloads its sections on reconnect anyway.
 */
export function incidentPublisher(redis: RedisClient, prefix: string, logger: Logger): IncidentChanged & { flush(): Promise<void> } {
  const channel = eventsChannel(prefix);
  let pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  const flush = async () => {
    clearTimeout(timer);
    timer = undefined;
    if (pending.size === 0) return;
    const ids = [...pending];
    pending = new Set();
    if (redis.status !== 'ready') return;
    await redis.publish(channel, JSON.stringify({ type: 'incident', ids })).catch((error: unknown) => {
      logger.debug({ err: String(error) }, 'could not publish an incident change to the page');
    });
  };
  const publish = (id: string) => {
    pending.add(id);
    timer ??= setTimeout(() => void flush(), PUBLISH_BATCH_MS);
    timer.unref?.();
  };
  return Object.assign(publish, { flush });
}

interface Client {
  res: Response;
  pending: Set<string>;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The changes heard within a frame make one generation, told to every page; the pages reloading for
 * one generation share its renders. A change after a quiet spell goes out within the shortest frame;
 * while changes keep coming frame after frame (a storm), each frame is twice as long as the last, up
 * to the longest: fifty pages following a storm reload about a third as often, and still show it within
 * a few seconds. Each page hears of a generation at a moment of its own within the frame: fifty pages
 * told at once send their reloads in one burst, which a webhook arriving then waits behind
 * (bench/RESULTS.md).
 */
export interface FrameSettings {
  shortestMs: number;
  longestMs: number;
}

const FRAMES: FrameSettings = { shortestMs: 1_000, longestMs: 4_000 };

/**
 * The length of the frame that follows one of `currentMs` which began `sinceLastFrameMs` after the
 * frame before it: twice as long when it began as early as it could (changes were waiting for it),
 * the shortest after a quiet spell.
 */
export function nextFrameMs(currentMs: number, sinceLastFrameMs: number, frames: FrameSettings): number {
  // A timer fires a little late, never early: within a tenth of the frame, it waited for this one.
  const changesWereWaiting = sinceLastFrameMs <= currentMs * 1.1;
  return changesWereWaiting ? Math.min(currentMs * 2, frames.longestMs) : frames.shortestMs;
}

const HEARTBEAT_MS = 15_000;
/** Open pages per replica; more are refused (503) so that they cannot exhaust the process. */
const MAX_CLIENTS = 1_000;

/** One RedisClient subscriber per replica, shared by its open pages. */
export class EventHub {
  private readonly clients = new Set<Client>();
  private subscriber: RedisClient | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private closed = false;
  /** Names this replica's generations: a page's reload may reach another replica (src/ui/shared-renders.ts). */
  readonly id = randomBytes(4).toString('hex');
  /**
   * Counts the frames of changes this replica told its pages of. Each event names it, and so do the
   * reloads it causes: a render begun since serves every page reloading for it.
   */
  generation = 0;
  private frameIds = new Set<string>();
  private frameTimer: NodeJS.Timeout | undefined;
  private lastFrame = 0;
  private frameMs: number;

  constructor(
    private readonly connection: RedisClient,
    private readonly prefix: string,
    private readonly logger: Logger,
    private readonly frames: FrameSettings = FRAMES,
  ) {
    this.frameMs = frames.shortestMs;
  }

  get size(): number {
    return this.clients.size;
  }

  /** Serves one page's stream until it goes away. */
  serve(req: Request, res: Response): void {
    if (this.closed || this.clients.size >= MAX_CLIENTS) {
      res.status(503).json({ error: { code: 'unavailable', message: 'too many open pages on this replica; retry later' } });
      return;
    }
    this.ensureSubscriber();
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      // Proxies (nginx) buffer responses unless told not to.
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    // EventSource reconnects after a drop; ask it to try again within 2 s.
    res.write('retry: 2000\n\n');
    res.write(`event: hello\ndata: ${JSON.stringify({ at: new Date().toISOString() })}\n\n`);
    const client: Client = { res, pending: new Set(), timer: undefined };
    this.clients.add(client);
    const drop = () => {
      clearTimeout(client.timer);
      this.clients.delete(client);
    };
    req.on('close', drop);
    res.on('error', drop);
  }

  /** Sends `event` to every page of this replica. */
  broadcast(event: string, data: unknown): void {
    const text = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const client of this.clients) client.res.write(text);
  }

  /** Ends every stream (the pages reconnect to another replica) and the subscriber. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeat);
    clearTimeout(this.frameTimer);
    for (const client of this.clients) {
      clearTimeout(client.timer);
      client.res.end();
    }
    this.clients.clear();
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
  }

  private ensureSubscriber(): void {
    if (this.subscriber) return;
    // Its own connection (a subscriber can do nothing else), queueing the SUBSCRIBE until it is up and
    // subscribing again after every reconnection (ioredis's autoResubscribe).
    const options = {
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      commandTimeout: undefined,
      autoResubscribe: true,
      connectionName: `${this.prefix}:ui-events`,
    };
    const subscriber: RedisClient =
      this.connection instanceof Cluster ? this.connection.duplicate(undefined, { redisOptions: options }) : this.connection.duplicate(options);
    this.subscriber = subscriber;
    let connectedBefore = false;
    subscriber.on('ready', () => {
      // What was published while this replica was away is lost: have the pages reload.
      if (connectedBefore) {
        this.generation++;
        this.broadcast('resync', { gen: this.gen() });
      }
      connectedBefore = true;
    });
    subscriber.on('error', (error: unknown) => this.logger.debug({ err: String(error) }, 'page events subscriber: RedisClient error'));
    subscriber.on('message', (_channel: string, message: string) => this.receive(message));
    void subscriber.subscribe(eventsChannel(this.prefix)).catch((error: unknown) => {
      this.logger.warn({ err: String(error) }, 'page events: could not subscribe; pages will not follow changes live');
    });
    this.heartbeat = setInterval(() => {
      for (const client of this.clients) client.res.write(': heartbeat\n\n');
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  private receive(message: string): void {
    let parsed: { type?: unknown; ids?: unknown };
    try {
      parsed = JSON.parse(message) as typeof parsed;
    } catch {
      return;
    }
    if (parsed.type !== 'incident' || !Array.isArray(parsed.ids)) return;
    for (const id of parsed.ids) if (typeof id === 'string') this.frameIds.add(id);
    if (this.frameTimer) return;
    this.frameTimer = setTimeout(() => this.frame(), Math.max(0, this.lastFrame + this.frameMs - Date.now()));
    this.frameTimer.unref?.();
  }

  /** One generation: every page is told of the changes heard since the last. */
  private frame(): void {
    this.frameTimer = undefined;
    const now = Date.now();
    // The frame this one opens: it spreads this generation's events and holds back the next.
    this.frameMs = nextFrameMs(this.frameMs, now - this.lastFrame, this.frames);
    this.lastFrame = now;
    const ids = [...this.frameIds];
    this.frameIds.clear();
    this.generation++;
    for (const client of this.clients) {
      for (const id of ids) client.pending.add(id);
      client.timer ??= setTimeout(() => this.flush(client), Math.floor(Math.random() * this.frameMs));
      client.timer.unref?.();
    }
  }

  private flush(client: Client): void {
    client.timer = undefined;
    const ids = [...client.pending];
    client.pending.clear();
    if (ids.length > 0) client.res.write(`event: incident\ndata: ${JSON.stringify({ ids, gen: this.gen() })}\n\n`);
  }

  private gen(): string {
    return `${this.id}.${this.generation}`;
  }
}
