import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { burnRatePayload } from '../support/payloads.js';
import { exited, type RouterProcess, startRouterProcess } from '../support/processes.js';
import { cleanRedis, eventually, REDIS_URL, testPrefix } from '../support/router.js';
import { printFigures } from './figures.js';

const TIMEOUT_MS = 2_000;
/** One byte this often: never done before the timeout, never idle long enough to look dead. */
const DRIP_MS = 100;
/** Cut "after the timeout" means soon after it, not whenever Node's own 30 s sweep comes round. */
const CUT_WITHIN_MS = TIMEOUT_MS + 5_000;
const CLIENTS_PER_KIND = 20;
const WEBHOOK = '/api/v1/webhooks/alertmanager';

interface SlowClient {
  kind: string;
  /** Milliseconds from connecting to the server closing the connection. */
  closed: Promise<number>;
  isOpen(): boolean;
  received(): string;
}

/** A raw connection that writes `opening` at once, then `drip` one byte at a time until the server cuts it. */
function slowClient(kind: string, port: number, opening: string, drip: string): SlowClient {
  const socket = connect(port, '127.0.0.1');
  const connectedAt = Date.now();
  let received = '';
  let open = true;
  let sent = 0;
  socket.on('data', (chunk) => (received += chunk.toString('latin1')));
  socket.on('error', () => {});
  socket.once('connect', () => socket.write(opening));
  const timer = setInterval(() => {
    if (open && drip !== '' && socket.writable) socket.write(drip[sent++ % drip.length]!);
  }, DRIP_MS);
  const closed = new Promise<number>((resolve) =>
    socket.once('close', () => {
      open = false;
      clearInterval(timer);
      resolve(Date.now() - connectedAt);
    }),
  );
  return { kind, closed, isOpen: () => open, received: () => received };
}

describe('slow clients (slowloris) against REQUEST_TIMEOUT and HEADERS_TIMEOUT of 2 s', () => {
  let router: RouterProcess;
  const prefix = testPrefix();

  beforeAll(async () => {
    router = await startRouterProcess({
      REDIS_URL,
      REDIS_PREFIX: prefix,
      REQUEST_TIMEOUT: `${TIMEOUT_MS}ms`,
      HEADERS_TIMEOUT: `${TIMEOUT_MS}ms`,
      LOG_LEVEL: 'warn',
    });
    await eventually(() => fetch(`${router.url}/readyz`).then((res) => res.ok), 10_000, 'router to be ready');
  });

  afterAll(async () => {
    router?.child.kill('SIGTERM');
    if (router) await exited(router.child);
    await cleanRedis(prefix);
  });

  it('cuts header drippers, body drippers and silent connections soon after the timeout, serving normal clients meanwhile', async () => {
    const port = Number(new URL(router.url).port);
    const requestLine = `POST ${WEBHOOK} HTTP/1.1\r\nHost: 127.0.0.1\r\n`;
    const clients = Array.from({ length: CLIENTS_PER_KIND }, () => [
      slowClient('headers byte by byte', port, '', `${requestLine}X-Padding: ${'a'.repeat(10_000)}`),
      slowClient(
        'body byte by byte',
        port,
        `${requestLine}Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n`,
        `{"padding":"${'b'.repeat(10_000)}`,
      ),
      slowClient('silent', port, '', ''),
    ]).flat();

    // Meanwhile, with every slow connection still held open, normal clients are served.
    await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS / 2));
    const health = await fetch(`${router.url}/healthz`);
    expect(health.status).toBe(200);
    const webhook = await fetch(`${router.url}${WEBHOOK}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(burnRatePayload({ seed: 'slow' })),
    });
    expect(webhook.status).toBe(202);
    expect(clients.filter((client) => client.isOpen())).toHaveLength(clients.length);

    const closedAfter = await Promise.all(
      clients.map((client) => Promise.race([client.closed, new Promise<number>((resolve) => setTimeout(() => resolve(Infinity), 40_000))])),
    );
    const byKind: Record<string, { minMs: number; maxMs: number; answered408: number }> = {};
    clients.forEach((client, i) => {
      byKind[client.kind] ??= { minMs: Infinity, maxMs: 0, answered408: 0 };
      const entry = byKind[client.kind]!;
      entry.minMs = Math.min(entry.minMs, closedAfter[i]!);
      entry.maxMs = Math.max(entry.maxMs, closedAfter[i]!);
      if (client.received().startsWith('HTTP/1.1 408')) entry.answered408 += 1;
    });
    printFigures('slow-clients', { timeoutMs: TIMEOUT_MS, clients: clients.length, closedAfter: byKind });

    for (const [i, client] of clients.entries()) {
      expect(closedAfter[i], client.kind).toBeGreaterThanOrEqual(TIMEOUT_MS - 100);
      expect(closedAfter[i], client.kind).toBeLessThan(CUT_WITHIN_MS);
      // Nothing but a 408, if anything: the webhook never ran on a half-sent request.
      expect(client.received(), client.kind).toMatch(/^(HTTP\/1\.1 408 |$)/);
    }
    expect((await fetch(`${router.url}/healthz`)).status).toBe(200);
  }, 60_000);
});
