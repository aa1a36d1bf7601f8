import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, realpathSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { eventually } from './router.js';

/** A free TCP port on loopback (the OS picks it; released before the caller binds it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves when `child` exits, with its exit code (or the signal's name). */
export function exited(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
}

/** A redis-server of the test's own, on its own port, for tests that break Redis on purpose. */
export class OwnRedis {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'alertcenter-redis-'));
  /** Keeps other tests' clients out: one that lands on this port through a freePort race is refused. */
  private readonly password = randomUUID();

  private constructor(readonly port: number) {}

  static async start(): Promise<OwnRedis> {
    // freePort() lets the port go before redis-server binds it: under parallel tests another
    // process may take it first, and redis-server exits. Then try another port.
    for (let attempt = 1; ; attempt++) {
      const redis = new OwnRedis(await freePort());
      try {
        await redis.up();
        return redis;
      } catch (error) {
        await redis.down();
        if (attempt === 3) throw error;
      }
    }
  }

  get url(): string {
    return `redis://:${this.password}@127.0.0.1:${this.port}`;
  }

  /** Starts (or restarts) the server; with appendonly so a restart keeps what was acknowledged. */
  async up(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--dir',
        this.dir,
        '--requirepass',
        this.password,
      ],
      { stdio: 'ignore' },
    );
    this.child = child;
    const ownDir = realpathSync(this.dir);
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`redis-server on port ${this.port} exited with ${child.exitCode} (port taken?)`);
        const client = new Redis(this.url, {
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
          connectTimeout: 1_000,
          commandTimeout: 1_000,
        });
        client.on('error', () => {}); // refused until the server listens: that is what we poll for
        try {
          await client.connect();
          // Whoever answers on the port must be this server, not another test's.
          const [, dir] = (await client.call('CONFIG', 'GET', 'dir')) as string[];
          return dir === ownDir;
        } catch {
          return false;
        } finally {
          client.disconnect();
        }
      },
      10_000,
      `redis-server on port ${this.port}`,
    );
  }

  /** Kills the server at once, as a crash would. */
  async down(): Promise<void> {
    if (!this.child) return;
    const child = this.child;
    this.child = undefined;
    child.kill('SIGKILL');
    await exited(child);
  }
}

export interface RouterProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
}

/** The router as a separate process (`src/main.ts` through tsx), for faults that need one. */
export async function startRouterProcess(env: Record<string, string>): Promise<RouterProcess> {
  // freePort() lets the port go before the router binds it: under parallel tests another process
  // may take it first, and the router exits with EADDRINUSE. Then try another port.
  for (let attempt = 1; ; attempt++) {
    try {
      return await spawnRouter(env);
    } catch (error) {
      if (attempt === 3 || !(error as Error).message.includes('EADDRINUSE')) throw error;
    }
  }
}

async function spawnRouter(env: Record<string, string>): Promise<RouterProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { PATH: process.env.PATH ?? '', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`router exited with ${child.exitCode}: ${output}`);
      return fetch(`${url}/healthz`).then(
        (res) => res.ok,
        () => false,
      );
    },
    20_000,
    'router process to answer /healthz',
  );
  return { child, url, output: () => output };
}
