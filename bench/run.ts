import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { WEBHOOK_PATH } from '../src/api/routes/webhook.js';
import { account, expectedNotifications, sendSteadily } from './e2e.js';
import type { LoadRequest, LoadResult } from './load.js';
import { benchOptions, type BenchOptions } from './options.js';
import { ALERTS_PER_WEBHOOK } from './payloads.js';
import type { PeerEndpoints, Receipt } from './peers.js';
import {
  ask,
  buildRouter,
  cpuMeter,
  runnableWaitMeter,
  flushRedis,
  forkModule,
  killAllNow,
  nextMessage,
  peakRssMb,
  startRedis,
  startRouterProcess,
  stop,
  stopAll,
  type RouterProcess,
} from './processes.js';
import { printTable, targetsOf, type BenchReport, type IngestFigures, type PeakRss } from './report.js';
import { round } from './stats.js';

/**
 * `npm run bench`: the router's ingest against the machine's own ceiling, then a steady end-to-end
 * load through routing to the Slack, email and PagerDuty peers. Everything runs on loopback in
 * processes of its own (Redis, router, peers, load generator), and everything is stopped at the end.
 * Prints a table, then one JSON line.
 */
const TEST_CA = fileURLToPath(new URL('../test/fixtures/tls/test-only-localhost.cert.pem', import.meta.url));

const secrets = {
  webhookToken: randomBytes(16).toString('hex'),
  slackToken: `xoxb-bench-${randomBytes(8).toString('hex')}`,
  routingKey: randomBytes(16).toString('hex'),
};

const progress = (message: string) => process.stderr.write(`bench: ${message}\n`);

interface Context {
  options: BenchOptions;
  workDir: string;
  redisUrl: string;
  redis: ChildProcess;
}

async function startPeers(ctx: Context, phase: string) {
  const child = forkModule('./peers.ts', { logFile: join(ctx.workDir, `peers-${phase}.log`) });
  const endpoints = await ask<PeerEndpoints>(child, { type: 'start', slackToken: secrets.slackToken, routingKey: secrets.routingKey });
  return { child, endpoints };
}

/** The router as it ships (dist/), configured as production would be, with the peers as channels. */
function routerEnv(ctx: Context, peers: PeerEndpoints): Record<string, string> {
  return {
    REDIS_URL: ctx.redisUrl,
    REDIS_PREFIX: 'bench',
    WEBHOOK_TOKENS: secrets.webhookToken,
    ADMIN_TOKEN: randomBytes(16).toString('hex'),
    LOG_LEVEL: 'info',
    SLACK_BOT_TOKEN: secrets.slackToken,
    SLACK_API_URL: peers.slackApiUrl,
    SMTP_URL: peers.smtpUrl,
    PAGERDUTY_ROUTING_KEY: secrets.routingKey,
    PAGERDUTY_SERVER: peers.pagerdutyServer,
    // The PagerDuty peer speaks TLS with a test-only certificate, as a private CA would be trusted.
    NODE_EXTRA_CA_CERTS: TEST_CA,
    ...ctx.options.routerEnv,
  };
}

/** The router's processes: the webhook's and the workers' (one process of ROLE=all with --single-process). */
interface Router {
  api: RouterProcess;
  pids: Record<string, number>;
  stop(): Promise<void>;
}

/**
 * An api process and `options.workers` worker processes, the workers at nice `options.workerNice`:
 * on one host the webhook, whose answer Alertmanager waits for, goes first; deliveries take the
 * rest of the CPU. `workers: 0` is the webhook's process alone.
 */
async function startRouter(ctx: Context, phase: string, peers: PeerEndpoints, { workers }: { workers: number }): Promise<Router> {
  const start = (role: string, name: string) =>
    startRouterProcess(
      { ...routerEnv(ctx, peers), ROLE: role },
      { logFile: join(ctx.workDir, `router-${phase}-${name}.log`), ...(ctx.options.profile && { profileDir: ctx.workDir }) },
    );
  if (ctx.options.singleProcess && workers > 0) {
    const all = await start('all', 'all');
    return { api: all, pids: { router: all.pid }, stop: () => stop(all.child, 30_000) };
  }
  const names = Array.from({ length: workers }, (_, i) => (workers === 1 ? 'worker' : `worker${i + 1}`));
  const [api, ...started] = await Promise.all([start('api', 'api'), ...names.map((name) => start('worker', name))]);
  for (const worker of started) setPriority(worker.pid, ctx.options.workerNice);
  const all = [api!, ...started];
  return {
    api: api!,
    pids: Object.fromEntries([['api', api!.pid], ...started.map((worker, i) => [names[i]!, worker.pid])]),
    stop: async () => {
      await Promise.all(all.map((part) => stop(part.child, 30_000)));
    },
  };
}

/**
 * Peak RSS of each of the router's processes, the largest of them (what a container's memory limit
 * must hold) and their sum.
 */
function routerPeakRss(router: Router): PeakRss {
  const byProcess = Object.fromEntries(Object.entries(router.pids).map(([name, pid]) => [name, round(peakRssMb(pid))]));
  const values = Object.values(byProcess);
  return { largestMb: Math.max(...values), togetherMb: round(values.reduce((sum, mb) => sum + mb, 0)), byProcess };
}

/** Runs the load generator (its own process) against `url` and returns what it measured. */
async function hammer(ctx: Context, phase: string, url: string, token?: string): Promise<LoadResult> {
  const load = forkModule('./load.ts', { logFile: join(ctx.workDir, `load-${phase}.log`) });
  const request: LoadRequest = {
    url,
    token,
    connections: ctx.options.connections,
    durationSeconds: ctx.options.ingestSeconds,
    warmupSeconds: ctx.options.warmupSeconds,
    seedPrefix: phase.slice(0, 1),
  };
  return ask<LoadResult>(load, request);
}

function figures(result: LoadResult, cpu: Record<string, number>, serverWaitedForCore: number): IngestFigures {
  return {
    requestsPerSecond: round(result.requestsPerSecond, 0),
    alertsPerSecond: round(result.requestsPerSecond * ALERTS_PER_WEBHOOK, 0),
    latencyMs: result.latencyMs,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    cpuCores: { ...cpu, load: result.cpuCores },
    serverWaitedForCore,
  };
}

async function measureCeiling(ctx: Context): Promise<IngestFigures> {
  progress('ceiling: bare node:http server, same payloads');
  const server = forkModule('./ceiling.ts', { logFile: join(ctx.workDir, 'ceiling.log') });
  const { url } = await nextMessage<{ url: string }>(server);
  const cpu = cpuMeter({ server: server.pid! });
  const wait = runnableWaitMeter({ server: server.pid! });
  const result = await hammer(ctx, 'ceiling', `${url}${WEBHOOK_PATH}`);
  const used = cpu();
  const waited = wait().server!;
  await stop(server);
  return figures(result, used, waited);
}

async function measureApiAlone(ctx: Context): Promise<IngestFigures> {
  progress('webhook process alone: the router with ROLE=api and no worker running (a diagnostic)');
  const peers = await startPeers(ctx, 'api-alone');
  const router = await startRouter(ctx, 'api-alone', peers.endpoints, { workers: 0 });
  const cpu = cpuMeter({ ...router.pids, redis: ctx.redis.pid! });
  const wait = runnableWaitMeter({ api: router.api.pid });
  const result = await hammer(ctx, 'api-alone', `${router.api.url}${WEBHOOK_PATH}`, secrets.webhookToken);
  const used = cpu();
  const waited = wait().api!;
  await router.stop();
  await stop(peers.child);
  return figures(result, used, waited);
}

async function measureIngest(ctx: Context): Promise<IngestFigures & { peakRss: PeakRss }> {
  progress('ingest: router with Redis, auth, validation, and its workers delivering to the peers');
  const peers = await startPeers(ctx, 'ingest');
  const router = await startRouter(ctx, 'ingest', peers.endpoints, ctx.options);
  const cpu = cpuMeter({ ...router.pids, redis: ctx.redis.pid!, peers: peers.child.pid! });
  const wait = runnableWaitMeter({ api: router.api.pid });
  const result = await hammer(ctx, 'ingest', `${router.api.url}${WEBHOOK_PATH}`, secrets.webhookToken);
  const used = cpu();
  const waited = wait().api!;
  const peakRss = routerPeakRss(router);
  await router.stop();
  await stop(peers.child);
  return { ...figures(result, used, waited), peakRss };
}

/**
 * Waits until the peers have received `expected` notifications, or until nothing has arrived for
 * `stallMs`: a slow router is measured as slow, only a stuck one as losing notifications.
 */
async function drained(peers: ChildProcess, expected: number, stallMs: number): Promise<void> {
  let count = 0;
  let progressAt = Date.now();
  while (count < expected && Date.now() - progressAt < stallMs) {
    await sleep(200);
    const now = (await ask<{ count: number }>(peers, { type: 'count' })).count;
    if (now > count) progressAt = Date.now();
    count = now;
  }
}

async function measureEndToEnd(ctx: Context): Promise<BenchReport['e2e']> {
  const { e2eAlertsPerSecond: rate, e2eSeconds: seconds } = ctx.options;
  progress(`end to end: ${rate} alerts/s, ${ctx.options.e2eWarmupSeconds} s of warm-up then ${seconds} s measured, to the Slack, email and PagerDuty peers`);
  const peers = await startPeers(ctx, 'e2e');
  const router = await startRouter(ctx, 'e2e', peers.endpoints, ctx.options);
  const load = { url: router.api.url, token: secrets.webhookToken, alertsPerSecond: rate };
  const stallMs = ctx.options.stallTimeoutSeconds * 1000;
  const take = async () => (await ask<{ receipts: Receipt[] }>(peers.child, { type: 'take' })).receipts;

  const warmup = await sendSteadily({ ...load, durationSeconds: ctx.options.e2eWarmupSeconds, seedPrefix: 'w' });
  await drained(peers.child, expectedNotifications(warmup), stallMs);
  const coldStart = account(warmup, await take());

  const cpu = cpuMeter({ ...router.pids, redis: ctx.redis.pid!, peers: peers.child.pid!, sender: process.pid });
  const sent = await sendSteadily({ ...load, durationSeconds: seconds, seedPrefix: 'e' });
  await drained(peers.child, expectedNotifications(sent), stallMs);
  // A duplicate would come after the original: give it a moment to show up.
  await sleep(1000);
  const cpuCores = cpu();
  const receipts = await take();
  const peakRss = routerPeakRss(router);
  await router.stop();
  await stop(peers.child);
  const delivery = account(sent, receipts);
  return {
    alertsPerSecond: rate,
    seconds,
    webhooks: sent.length,
    non2xx: sent.filter((webhook) => webhook.status < 200 || webhook.status > 299).length,
    ...delivery,
    deliveredRatio: delivery.expected === 0 ? 0 : round(delivery.delivered / delivery.expected, 4),
    coldStart: {
      seconds: ctx.options.e2eWarmupSeconds,
      delivered: coldStart.delivered,
      expected: coldStart.expected,
      latencyMs: coldStart.latencyMs,
      latencyMsByChannel: coldStart.latencyMsByChannel,
    },
    peakRss,
    cpuCores,
  };
}

function commit(): { commit: string; srcDirty: boolean } {
  const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim();
  return { commit: git('rev-parse', '--short', 'HEAD'), srcDirty: git('status', '--porcelain', '--', 'src').length > 0 };
}

async function main(): Promise<void> {
  const options = benchOptions(process.env, process.argv.slice(2));
  // Other work on the machine skews every figure but the ratio: say how busy it was.
  const loadAverage = round(loadavg()[0]!, 2);
  const workDir = mkdtempSync(join(tmpdir(), 'alertcenter-bench-'));
  progress(`${options.smoke ? 'smoke run' : 'full run'}; logs in ${workDir}`);
  progress('building the router (npm run build)');
  await buildRouter(join(workDir, 'build.log'));
  const redis = await startRedis(workDir);
  const ctx: Context = { options, workDir, redisUrl: redis.url, redis: redis.child };

  const ceiling = await measureCeiling(ctx);
  const apiAlone = await measureApiAlone(ctx);
  await flushRedis(redis.url);
  await flushRedis(redis.url);
  const ingest = await measureIngest(ctx);
  await flushRedis(redis.url);
  const e2e = await measureEndToEnd(ctx);
  await stop(redis.child);

  const report: BenchReport = {
    date: new Date().toISOString(),
    loadAverage,
    ...commit(),
    smoke: options.smoke,
    routerEnv: options.routerEnv,
    singleProcess: options.singleProcess,
    workers: options.workers,
    workerNice: options.workerNice,
    connections: options.connections,
    ingestSeconds: options.ingestSeconds,
    ceiling,
    apiAlone,
    ingest,
    ingestToCeiling: round(ingest.requestsPerSecond / ceiling.requestsPerSecond, 3),
    e2e,
    peakRssMb: Math.max(ingest.peakRss.largestMb, e2e.peakRss.largestMb),
    targets: { ingestToCeiling: false, ingestLatency: false, e2e: false, memory: false },
  };
  report.targets = targetsOf(report);
  printTable(report);
  if (options.profile) progress(`CPU profiles (*.cpuprofile) of the router processes kept in ${workDir}`);
  else rmSync(workDir, { recursive: true, force: true });
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    progress(`${signal}: stopping everything`);
    void stopAll().finally(() => process.exit(130));
  });
}

main().catch(async (error: unknown) => {
  progress(`failed: ${error instanceof Error ? error.message : String(error)}`);
  await stopAll();
  process.exit(1);
});
