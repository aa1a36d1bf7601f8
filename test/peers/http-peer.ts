import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo, Server as NetServer } from 'node:net';

/** What a peer does with the next requests; `ok` answers as the real service would. */
export type PeerBehavior =
  | { kind: 'ok' }
  /** HTTP 429, with a Retry-After header in seconds when given. */
  | { kind: 'rate_limited'; retryAfterSeconds?: number }
  | { kind: 'http_error'; status: number }
  /** Reads the request and never answers. */
  | { kind: 'hang' }
  /** Answers as `ok` would once `until` settles: keeps requests in flight together for as long as a test needs. */
  | { kind: 'held'; until: Promise<unknown> };

type Server = HttpServer | HttpsServer;

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Listens on 127.0.0.1 with an ephemeral port. */
export async function listenLocally(server: NetServer): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** Closes the server, cutting hung requests and idle keep-alive connections. */
export async function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}

/** A `held` behaviour, and `release` to let the peer answer the requests it holds. */
export function heldAnswers(): { held: PeerBehavior; release: () => void } {
  let release!: () => void;
  const until = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { held: { kind: 'held', until }, release };
}

export function retryAfterHeader(seconds: number | undefined): Record<string, string> {
  return seconds === undefined ? {} : { 'Retry-After': String(seconds) };
}
