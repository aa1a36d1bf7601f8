import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

// The image's HEALTHCHECK (bin/healthcheck.js) run as Docker runs it: a process with the
// container's environment, judged by its exit code.
const script = fileURLToPath(new URL('../../bin/healthcheck.js', import.meta.url));

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

async function serve(host: string, status = 200, port = 0): Promise<number> {
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/healthz' ? status : 404).end();
  });
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return (server.address() as AddressInfo).port;
}

function healthcheck(env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script], { env: { PATH: process.env.PATH, ...env }, timeout: 10_000 }, (error, _stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stderr });
    });
  });
}

describe('image healthcheck', () => {
  it('reaches a router listening on every IPv4 address (HOST=0.0.0.0) on 127.0.0.1', async () => {
    const port = await serve('0.0.0.0');
    expect(await healthcheck({ HOST: '0.0.0.0', PORT: String(port) })).toEqual({ code: 0, stderr: '' });
  });

  it('reaches a router listening on every address (HOST=::, bracketed or not)', async () => {
    const port = await serve('::');
    expect((await healthcheck({ HOST: '::', PORT: String(port) })).code).toBe(0);
    expect((await healthcheck({ HOST: '[::]', PORT: String(port) })).code).toBe(0);
  });

  it('falls back to 127.0.0.1 for HOST=:: when only IPv4 loopback answers', async () => {
    const port = await serve('127.0.0.1');
    expect((await healthcheck({ HOST: '::', PORT: String(port) })).code).toBe(0);
  });

  it('asks a specific address, not loopback, when HOST names one', async () => {
    const port = await serve('127.0.0.2');
    expect((await healthcheck({ HOST: '127.0.0.2', PORT: String(port) })).code).toBe(0);
    // A healthy answer on 127.0.0.1 must not count: the router bound to 127.0.0.2 is not there.
    const onLoopbackOnly = await serve('127.0.0.1');
    const wrong = await healthcheck({ HOST: '127.0.0.2', PORT: String(onLoopbackOnly) });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`127.0.0.2:${onLoopbackOnly}: connect ECONNREFUSED`);
  });

  it('uses PORT 8080 and HOST 127.0.0.1 by default, as the router does', async () => {
    const fails = await healthcheck({});
    // Whether or not something listens on 8080 here, the message names the default target.
    if (fails.code !== 0) expect(fails.stderr).toContain('127.0.0.1:8080');
  });

  it('fails on a non-200 answer, on nothing listening, and on an unusable PORT', async () => {
    const unhealthy = await serve('127.0.0.1', 503);
    const answered503 = await healthcheck({ HOST: '0.0.0.0', PORT: String(unhealthy) });
    expect(answered503).toEqual({ code: 1, stderr: expect.stringContaining(': 503') });

    const closed = await serve('127.0.0.1');
    await new Promise((resolve) => servers.pop()!.close(resolve));
    const refused = await healthcheck({ HOST: '127.0.0.1', PORT: String(closed) });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('ECONNREFUSED');

    expect(await healthcheck({ PORT: '0' })).toEqual({ code: 1, stderr: expect.stringContaining('PORT must be a fixed port') });
  });
});
