import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { BehaviorSchedule } from './behavior.js';
import { closeServer, listenLocally, type PeerBehavior, readBody, retryAfterHeader } from './http-peer.js';

/**
 * A local stand-in for Slack's Web API (https://slack.com/api/): chat.postMessage and chat.update
 * (with message metadata), conversations.history, conversations.replies and conversations.list, form-encoded or JSON
 * bodies, `{ok:true,...}` answers, errors as `{ok:false,error}` with HTTP 200, rate limits as HTTP
 * 429 with Retry-After.
 *
 * conversations.history as Slack documents it: the channel's messages (thread replies excluded)
 * between `oldest` and `latest` (default: now; exclusive unless `inclusive`), newest first, at most
 * `limit` (default 100, at most 999) a page, `has_more` and `response_metadata.next_cursor` for the
 * next page, and each message's `metadata` only when `include_all_metadata` is set.
 */
export type SlackPeerBehavior = PeerBehavior | { kind: 'slack_error'; error: string };

export interface SlackCall {
  method: string;
  authorization: string | undefined;
  contentType: string | undefined;
  args: Record<string, unknown>;
}

export interface SlackPostedMessage {
  channel: string;
  ts: string;
  thread_ts?: string;
  text?: string;
  attachments?: unknown;
  blocks?: unknown;
  /** Message metadata (`{event_type, event_payload}`) as posted or last updated. */
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
  /** How many chat.update calls changed it. */
  updates: number;
}

export interface SlackPeer {
  /** For the client's slackApiUrl: http://127.0.0.1:<port>/api/ */
  url: string;
  port: number;
  /** Every call, answered or not, in arrival order. */
  received: SlackCall[];
  /** Messages as they stand now, by ts. */
  messages: Map<string, SlackPostedMessage>;
  /** What was posted to response URLs (`responseUrl()`), in arrival order: ephemeral answers to a click. */
  responses: Array<{ path: string; body: any }>;
  /** A response_url as Slack would put in an interaction payload, served by this peer. */
  responseUrl(): string;
  setBehavior(behavior: SlackPeerBehavior, times?: number): void;
  close(): Promise<void>;
}

export interface SlackPeerOptions {
  /** When set, calls must carry `Authorization: Bearer <token>` (else not_authed / invalid_auth). */
  token?: string;
  /** Channel names conversations.list knows from the start (each posted-to channel joins them). */
  channels?: string[];
  /** Epoch ms the peer stamps messages with (their ts) and reads `latest` against; Date.now by default. */
  clock?: () => number;
}

/** Fields Slack reads as JSON inside a form-encoded body. */
const JSON_FIELDS = new Set(['attachments', 'blocks', 'metadata']);

export async function startSlackPeer(options: SlackPeerOptions = {}): Promise<SlackPeer> {
  const received: SlackCall[] = [];
  const messages = new Map<string, SlackPostedMessage>();
  const responses: Array<{ path: string; body: any }> = [];
  let responseUrls = 0;
  const behaviors = new BehaviorSchedule<SlackPeerBehavior>();
  const clock = options.clock ?? Date.now;
  /** Channel names by id. */
  const channels = new Map<string, string>((options.channels ?? []).map((name) => [channelId(name), name.replace(/^#/, '')]));
  let sequence = 0;

  const server = createServer((req, res) => {
    void handle(req, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.url?.startsWith('/response/')) {
      // Slack's response_url answers a plain "ok".
      responses.push({ path: req.url, body: JSON.parse(await readBody(req)) });
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
      return;
    }
    const method = (req.url ?? '').replace(/^\/api\//, '').split('?')[0]!;
    const args = parseArgs(req.headers['content-type'], await readBody(req));
    received.push({ method, authorization: req.headers.authorization, contentType: req.headers['content-type'], args });
    const behavior = behaviors.next();
    switch (behavior.kind) {
      case 'hang':
        return;
      case 'rate_limited':
        res.writeHead(429, { ...retryAfterHeader(behavior.retryAfterSeconds), 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
        return;
      case 'http_error':
        res.writeHead(behavior.status, { 'Content-Type': 'text/html' });
        res.end('<html><body>upstream trouble</body></html>');
        return;
      case 'slack_error':
        return reply(res, { ok: false, error: behavior.error });
      case 'held':
        await behavior.until;
        return reply(res, answer(method, req.headers.authorization, args));
      case 'ok':
        return reply(res, answer(method, req.headers.authorization, args));
    }
  }

  function answer(method: string, authorization: string | undefined, args: Record<string, unknown>): object {
    if (options.token !== undefined) {
      if (authorization === undefined) return { ok: false, error: 'not_authed' };
      if (authorization !== `Bearer ${options.token}`) return { ok: false, error: 'invalid_auth' };
    }
    if (method === 'conversations.list') return listChannels(args);
    const channel = String(args.channel ?? '');
    if (channel === '') return { ok: false, error: 'channel_not_found' };
    if (method === 'conversations.history') return history(channel, args);
    if (method === 'conversations.replies') return replies(channel, args);
    if (!('text' in args) && !('blocks' in args) && !('attachments' in args)) return { ok: false, error: 'no_text' };
    const content = {
      text: args.text as string | undefined,
      attachments: args.attachments,
      blocks: args.blocks,
      ...(args.metadata === undefined ? {} : { metadata: args.metadata as SlackPostedMessage['metadata'] }),
    };
    if (method === 'chat.postMessage') {
      sequence += 1;
      const ts = `${Math.floor(clock() / 1000)}.${String(sequence).padStart(6, '0')}`;
      const posted: SlackPostedMessage = { channel: channelId(channel), ts, ...content, updates: 0 };
      if (!channels.has(posted.channel)) channels.set(posted.channel, channel.replace(/^#/, ''));
      if (typeof args.thread_ts === 'string') {
        if (!messages.has(args.thread_ts)) return { ok: false, error: 'thread_not_found' };
        posted.thread_ts = args.thread_ts;
      }
      messages.set(ts, posted);
      return { ok: true, channel: posted.channel, ts, message: { type: 'message', text: posted.text, ts } };
    }
    if (method === 'chat.update') {
      const existing = messages.get(String(args.ts));
      // Like Slack, chat.update wants the channel id, not its name.
      if (existing === undefined || existing.channel !== channel) return { ok: false, error: 'message_not_found' };
      Object.assign(existing, content, { updates: existing.updates + 1 });
      return { ok: true, channel, ts: existing.ts, text: existing.text };
    }
    return { ok: false, error: 'unknown_method' };
  }

  function history(channel: string, args: Record<string, unknown>): object {
    // Like Slack, conversations.history wants the channel id, not its name.
    if (!channels.has(channel)) return { ok: false, error: 'channel_not_found' };
    const inclusive = flag(args.inclusive);
    const oldest = args.oldest === undefined ? 0 : Number(args.oldest);
    // Default: now. Messages are stamped with the second plus a sequence number, so "now" is the end of this second.
    const latest = args.latest === undefined ? Math.floor(clock() / 1000) + 1 : Number(args.latest);
    const limit = Math.min(999, Math.max(1, args.limit === undefined ? 100 : Number(args.limit)));
    const cursor = args.cursor === undefined || args.cursor === '' ? null : decodeCursor(String(args.cursor));
    if (cursor === undefined) return { ok: false, error: 'invalid_cursor' };
    const inRange = [...messages.values()]
      .filter((message) => message.channel === channel && (message.thread_ts === undefined || message.thread_ts === message.ts))
      .filter((message) => {
        const ts = Number(message.ts);
        return (inclusive ? ts >= oldest : ts > oldest) && (inclusive ? ts <= latest : ts < latest);
      })
      .sort((a, b) => compareTs(b.ts, a.ts))
      .filter((message) => cursor === null || compareTs(message.ts, cursor) <= 0);
    const page = inRange.slice(0, limit);
    const next = inRange[limit];
    const withMetadata = flag(args.include_all_metadata);
    return {
      ok: true,
      messages: page.map((message) => ({
        type: 'message',
        subtype: 'bot_message',
        bot_id: 'B0PEER',
        text: message.text,
        ts: message.ts,
        ...(message.attachments === undefined ? {} : { attachments: message.attachments }),
        ...(message.blocks === undefined ? {} : { blocks: message.blocks }),
        ...(withMetadata && message.metadata !== undefined ? { metadata: message.metadata } : {}),
      })),
      has_more: next !== undefined,
      pin_count: 0,
      response_metadata: { next_cursor: next === undefined ? '' : encodeCursor(next.ts) },
    };
  }

  /** The thread of `ts`: its parent first, then the replies oldest first, `limit` (default 1000) a page. */
  function replies(channel: string, args: Record<string, unknown>): object {
    if (!channels.has(channel)) return { ok: false, error: 'channel_not_found' };
    const parent = messages.get(String(args.ts ?? ''));
    if (parent === undefined || parent.channel !== channel) return { ok: false, error: 'thread_not_found' };
    const limit = Math.min(1000, Math.max(1, args.limit === undefined ? 1000 : Number(args.limit)));
    const cursor = args.cursor === undefined || args.cursor === '' ? null : decodeCursor(String(args.cursor));
    if (cursor === undefined) return { ok: false, error: 'invalid_cursor' };
    const thread = [parent, ...[...messages.values()].filter((message) => message.thread_ts === parent.ts && message.ts !== parent.ts)]
      .sort((a, b) => compareTs(a.ts, b.ts))
      .filter((message) => cursor === null || compareTs(message.ts, cursor) >= 0);
    const page = thread.slice(0, limit);
    const next = thread[limit];
    const withMetadata = flag(args.include_all_metadata);
    return {
      ok: true,
      messages: page.map((message) => ({
        type: 'message',
        bot_id: 'B0PEER',
        text: message.text,
        ts: message.ts,
        thread_ts: parent.ts,
        ...(withMetadata && message.metadata !== undefined ? { metadata: message.metadata } : {}),
      })),
      has_more: next !== undefined,
      response_metadata: { next_cursor: next === undefined ? '' : encodeCursor(next.ts) },
    };
  }

  function listChannels(args: Record<string, unknown>): object {
    const all = [...channels].map(([id, name]) => ({ id, name, is_channel: true, is_private: false, is_archived: false }));
    const limit = Math.min(1000, Math.max(1, args.limit === undefined ? 100 : Number(args.limit)));
    const start =
      args.cursor === undefined || args.cursor === ''
        ? 0
        : Number(
            Buffer.from(String(args.cursor), 'base64')
              .toString('utf8')
              .replace(/^offset:/, ''),
          );
    const page = all.slice(start, start + limit);
    const more = start + limit < all.length;
    return {
      ok: true,
      channels: page,
      response_metadata: { next_cursor: more ? Buffer.from(`offset:${start + limit}`).toString('base64') : '' },
    };
  }

  const port = await listenLocally(server);
  return {
    url: `http://127.0.0.1:${port}/api/`,
    port,
    received,
    messages,
    responses,
    responseUrl: () => `http://127.0.0.1:${port}/response/T0PEER/${++responseUrls}/x`,
    setBehavior: (behavior, times) => behaviors.set(behavior, times),
    close: () => closeServer(server),
  };
}

/** Slack answers with ids: `#alerts` -> `CALERTS`. */
function channelId(channel: string): string {
  return /^[CDG][A-Z0-9]+$/.test(channel) ? channel : `C${channel.replace(/[^A-Za-z0-9]/g, '').toUpperCase()}`;
}

/** Booleans arrive as `true` in JSON and as "true" or "1" in a form. */
function flag(value: unknown): boolean {
  return value === true || value === 'true' || value === '1' || value === 1;
}

/** Slack's cursors are opaque; this one is base64 of `next_ts:<ts>` as Slack's own look. */
function encodeCursor(ts: string): string {
  return Buffer.from(`next_ts:${ts}`).toString('base64');
}

/** The ts a cursor names; undefined when it is not one of ours. */
function decodeCursor(cursor: string): string | undefined {
  const text = Buffer.from(cursor, 'base64').toString('utf8');
  return text.startsWith('next_ts:') ? text.slice('next_ts:'.length) : undefined;
}

/** Slack ts values compare as numbers ("1700000000.000010" > "1700000000.000009"). */
function compareTs(a: string, b: string): number {
  const [aSeconds, aMicros] = a.split('.').map(Number) as [number, number];
  const [bSeconds, bMicros] = b.split('.').map(Number) as [number, number];
  return aSeconds - bSeconds || aMicros - bMicros;
}

function parseArgs(contentType: string | undefined, body: string): Record<string, unknown> {
  if (contentType?.startsWith('application/json')) return JSON.parse(body) as Record<string, unknown>;
  const args: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(body)) args[key] = JSON_FIELDS.has(key) ? JSON.parse(value) : value;
  return args;
}

function reply(res: ServerResponse, body: object): void {
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}
