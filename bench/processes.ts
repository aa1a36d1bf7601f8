import { type ChildProcess, fork, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { exited, freePort } from '../test/support/processes.js';
import { eventually } from '../test/support/router.js';

/**
 * Every process the bench starts, so that all of them are killed at the end, also on an error or
 * Ctrl-C: a benchmark that leaves a redis-server or a router behind spoils the next run.
 */
const children = new Set<ChildProcess>();

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Stops one child: SIGTERM first (a router then writes its CPU profile), SIGKILL after `graceMs`. */
export async function stop(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(timer);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((child) => stop(child)));
}

/** Last resort (synchronous, on exit): nothing of ours outlives the bench. */
export function killAllNow(): void {
  for (const child of children) child.kill('SIGKILL');
}

/** A TypeScript module of the bench in its own Node process, talking over IPC. */
export function forkModule(module: string, { logFile, env = {} }: { logFile: string; env?: Record<string, string> }): ChildProcess {
  const log = openSync(logFile, 'w');
  return track(
    fork(new URL(module, import.meta.url), [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, ...env },
      stdio: ['ignore', log, log, 'ipc'],
    }),
  );
}

/** The next message of a forked module; rejects if it dies first or answers `{error}`. */
export function nextMessage<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${child.spawnargs.join(' ')} exited with ${code} before answering`));
    child.once('exit', onExit);
    child.once('message', (reply) => {
      child.off('exit', onExit);
      if (reply && typeof reply === 'object' && 'error' in reply) reject(new Error(String(reply.error)));
      else resolve(reply as T);
    });
  });
}

/** Sends `request` to a forked module and resolves with its reply. */
export function ask<T>(child: ChildProcess, request: object): Promise<T> {
  const reply = nextMessage<T>(child);
  child.send(request);
  return reply;
}

/** A redis-server of the bench's own on a free port, without persistence: runs do not pollute 6379. */
export async function startRedis(dir: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  // A password of its own: should another process win the race for this port, the bench fails to
  // reach it rather than flushing someone else's Redis.
  const password = randomUUID();
  const child = track(
    spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--requirepass', password], {
      stdio: 'ignore',
    }),
  );
  const url = `redis://:${password}@127.0.0.1:${port}`;
  await eventually(() => ping(url), 10_000, `redis-server on port ${port}`);
  return { url, child };
}

async function ping(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {}); // refused while redis-server starts: connect() rejects, that is enough
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export async function flushRedis(url: string): Promise<void> {
  const client = new Redis(url);
  try {
    await client.flushall();
  } finally {
    client.disconnect();
  }
}

/** The production build (`npm run build`), so the router runs as it ships: plain JavaScript. */
export async function buildRouter(logFile: string): Promise<void> {
  const log = openSync(logFile, 'w');
  const child = track(spawn('npm', ['run', 'build'], { stdio: ['ignore', log, log] }));
  const code = await exited(child);
  if (code !== 0) throw new Error(`npm run build failed (${code}); see ${logFile}`);
}

export interface RouterProcess {
  child: ChildProcess;
  url: string;
  pid: number;
}

/** `npm start`'s command line without npm (it would build first): the router exactly as it starts. */
function startArguments(): string[] {
  const { scripts } = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } };
  const [program, ...args] = scripts.start.trim().split(/\s+/);
  if (program !== 'node') throw new Error(`package.json's start script runs ${program}, not node: the bench cannot start it`);
  return args;
}

/** The router as `npm start` runs it, on a free port; resolves once /readyz says Redis and routing are up. */
export async function startRouterProcess(
  env: Record<string, string>,
  { logFile, profileDir }: { logFile: string; profileDir?: string },
): Promise<RouterProcess> {
  const port = await freePort();
  const log = openSync(logFile, 'w');
  const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const child = track(
    spawn(process.execPath, [...profile, ...startArguments()], {
      env: { PATH: process.env.PATH ?? '', PORT: String(port), HOST: '127.0.0.1', ...env },
      stdio: ['ignore', log, log],
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`router exited with ${child.exitCode}; see ${logFile}`);
      return fetch(`${url}/readyz`).then(
        (res) => res.ok,
        () => false,
      );
    },
    20_000,
    'router process to be ready',
  );
  return { child, url, pid: child.pid! };
}

/** Peak resident set size of a live process (VmHWM), in MB. */
export function peakRssMb(pid: number): number {
  const status = readFileSync(join('/proc', String(pid), 'status'), 'utf8');
  const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(kb) / 1024;
}

/** CPU time (user + system) a live process has used so far, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(join('/proc', String(pid), 'stat'), 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are 14th and 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** USER_HZ, 100 on every Linux this runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * Time a live process's main thread spent runnable but waiting for a core, so far, in seconds
 * (/proc/<pid>/schedstat: time on the CPU, time waiting on a run queue, timeslices; in ns).
 */
export function runnableWaitSeconds(pid: number): number {
  const [, waitingNs] = readFileSync(join('/proc', String(pid), 'schedstat'), 'utf8')
    .trim()
    .split(' ');
  return Number(waitingNs) / 1e9;
}

/** How fast a per-process count of seconds (`read`) grew during a phase, per second, for each named process. */
function secondsPerSecond(read: (pid: number) => number, pids: Record<string, number>): () => Record<string, number> {
  const started = performance.now();
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, read(pid)]));
  return () => {
    const seconds = (performance.now() - started) / 1000;
    return Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, Math.round(((read(pid) - before[name]!) / seconds) * 100) / 100]));
  };
}

/** Where the machine's CPU went during a phase: cores used by each named process. */
export const cpuMeter = (pids: Record<string, number>) => secondsPerSecond(cpuSeconds, pids);

/** How long each named process waited for a core while it could have run, per second of the phase. */
export const runnableWaitMeter = (pids: Record<string, number>) => secondsPerSecond(runnableWaitSeconds, pids);

/** CPU each named process used from now until the returned function is called, in microseconds per `units` (e.g. webhooks). */
export function cpuPerUnit(pids: Record<string, number>): (units: number) => Record<string, number> {
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
  return (units) =>
    Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, Math.round(((cpuSeconds(pid) - before[name]!) * 1e6) / Math.max(1, units))]));
}
