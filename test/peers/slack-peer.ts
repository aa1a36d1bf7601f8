import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { BehaviorSchedule } from './behavior.js';
import { closeServer, listenLocally, readBody, retryAfterHeader, type PeerBehavior } from './http-peer.js';

/**
 * A local stand-in for Slack's Web API (https://slack.com/api/): chat.postMessage and chat.update,
 * form-encoded or JSON bodies, `{ok:true,...}` answers, errors as `{ok:false,error}` with HTTP 200,
 * rate limits as HTTP 429 with Retry-After.
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
  setBehavior(behavior: SlackPeerBehavior, times?: number): void;
  close(): Promise<void>;
}

export interface SlackPeerOptions {
  /** When set, calls must carry `Authorization: Bearer <token>` (else not_authed / invalid_auth). */
  token?: string;
}

/** Fields Slack reads as JSON inside a form-encoded body. */
const JSON_FIELDS = new Set(['attachments', 'blocks', 'metadata']);

export async function startSlackPeer(options: SlackPeerOptions = {}): Promise<SlackPeer> {
  const received: SlackCall[] = [];
  const messages = new Map<string, SlackPostedMessage>();
  const behaviors = new BehaviorSchedule<SlackPeerBehavior>();
  let sequence = 0;

  const server = createServer((req, res) => {
    void handle(req, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
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
    const channel = String(args.channel ?? '');
    if (channel === '') return { ok: false, error: 'channel_not_found' };
    if (!('text' in args) && !('blocks' in args) && !('attachments' in args)) return { ok: false, error: 'no_text' };
    const content = { text: args.text as string | undefined, attachments: args.attachments, blocks: args.blocks };
    if (method === 'chat.postMessage') {
      sequence += 1;
      const ts = `${Math.floor(Date.now() / 1000)}.${String(sequence).padStart(6, '0')}`;
      const posted: SlackPostedMessage = { channel: channelId(channel), ts, ...content, updates: 0 };
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

  const port = await listenLocally(server);
  return {
    url: `http://127.0.0.1:${port}/api/`,
    port,
    received,
    messages,
    setBehavior: (behavior, times) => behaviors.set(behavior, times),
    close: () => closeServer(server),
  };
}

/** Slack answers with ids: `#alerts` -> `CALERTS`. */
function channelId(channel: string): string {
  return /^[CDG][A-Z0-9]+$/.test(channel) ? channel : `C${channel.replace(/[^A-Za-z0-9]/g, '').toUpperCase()}`;
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
