import { type ChildProcess, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { WEBHOOK_PATH } from '../src/api/routes/webhook.js';
import { startAlertmanager } from './alertmanager.js';
import type { LoadRequest, LoadResult } from './load.js';
import { type BenchOptions, benchOptions } from './options.js';
import { ALERTS_PER_WEBHOOK, type BodyKind, groupsOf } from './payloads.js';
import type { PeerEndpoints, Receipt } from './peers.js';
import {
  ask,
  buildRouter,
  cpuMeter,
  cpuPerUnit,
  flushRedis,
  forkModule,
  killAllNow,
  nextMessage,
  peakRssMb,
  type RouterProcess,
  runnableWaitMeter,
  startRedis,
  startRouterProcess,
  stop,
  stopAll,
} from './processes.js';
import { QueueWatch } from './queues.js';
import { perWebhook, redisCounters } from './redis-stats.js';
import {
  type Backlog,
  type BenchReport,
  type Deployment,
  type LoadFigures,
  type PeakRss,
  printTable,
  type RouterIngest,
  type StormFigures,
  targetsOf,
} from './report.js';
import { percentile, round } from './stats.js';
import { accountStorm, type ListedIncident, planStorm } from './storm.js';
import type { StormRequest, StormSent } from './storm-sender.js';

/**
 * `npm run bench`: the router's ingest against Alertmanager's own (`POST /api/v2/alerts`, the same
 * alerts, the same load generator and connections) for the one process `npm start` runs and for the
 * split deployment, with the backlog each leaves; then issue 13's alert storm through incidents to
 * the Slack, email and PagerDuty peers. Everything runs on loopback in processes of its own (Redis,
 * Alertmanager, router, peers, load generator), and everything is stopped at the end, also on an
 * error or Ctrl-C. Prints a table, then one JSON line.
 */
const TEST_CA = fileURLToPath(new URL('../test/fixtures/tls/test-only-localhost.cert.pem', import.meta.url));
const PREFIX = 'bench';
/** The shipped routes.yaml's email receiver, whose mail threads the storm counts. */
const EMAIL_RECEIVER = 'ops-email';

const secrets = {
  webhookToken: randomBytes(16).toString('hex'),
  adminToken: randomBytes(16).toString('hex'),
  slackToken: `xoxb-bench-${randomBytes(8).toString('hex')}`,
  routingKey: randomBytes(16).toString('hex'),
};

const progress = (message: string) => process.stderr.write(`bench: ${message}\n`);
const loadAverage = () => round(loadavg()[0]!, 2);

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
    REDIS_PREFIX: PREFIX,
    WEBHOOK_TOKENS: secrets.webhookToken,
    ADMIN_TOKEN: secrets.adminToken,
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

/** The router's processes: the webhook's and the workers' (one process of ROLE=all for `single`). */
interface Router {
  api: RouterProcess;
  pids: Record<string, number>;
  stop(): Promise<void>;
}

/**
 * `single`: one process of ROLE=all, as `npm start` runs it. `split`: an api process and
 * `options.workers` worker processes at nice `options.workerNice`: on one host the webhook, whose
 * answer Alertmanager waits for, goes first; the workers take the rest of the CPU.
 */
async function startRouter(ctx: Context, phase: string, peers: PeerEndpoints, deployment: Deployment): Promise<Router> {
  const start = (role: string, name: string) =>
    startRouterProcess(
      { ...routerEnv(ctx, peers), ROLE: role },
      { logFile: join(ctx.workDir, `router-${phase}-${name}.log`), ...(ctx.options.profile && { profileDir: join(ctx.workDir, `profiles-${phase}-${name}`) }) },
    );
  if (deployment === 'single') {
    const all = await start('all', 'all');
    return { api: all, pids: { router: all.pid }, stop: () => stop(all.child, 30_000) };
  }
  const { workers } = ctx.options;
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

/** Peak RSS of each of the router's processes, the largest of them (what a container's limit must hold) and their sum. */
function routerPeakRss(router: Router): PeakRss {
  const byProcess = Object.fromEntries(Object.entries(router.pids).map(([name, pid]) => [name, round(peakRssMb(pid))]));
  const values = Object.values(byProcess);
  return { largestMb: Math.max(...values), togetherMb: round(values.reduce((sum, mb) => sum + mb, 0)), byProcess };
}

/** Runs the load generator (its own process) against `url` and returns what it measured. */
async function hammer(ctx: Context, phase: string, url: string, body: BodyKind, token?: string): Promise<LoadResult> {
  const load = forkModule('./load.ts', { logFile: join(ctx.workDir, `load-${phase}.log`) });
  const { options } = ctx;
  const request: LoadRequest = {
    url,
    token,
    body,
    groups: options.groups,
    connections: options.connections,
    durationSeconds: options.ingestSeconds,
    warmupSeconds: options.warmupSeconds,
    ...(options.ingestAmount !== undefined && { amount: options.ingestAmount, warmupAmount: options.warmupAmount }),
    seedPrefix: phase.slice(0, 1),
  };
  return ask<LoadResult>(load, request);
}

function figures(result: LoadResult, cpu: Record<string, number>, startedLoad: number): LoadFigures {
  return {
    requestsPerSecond: round(result.requestsPerSecond, 0),
    alertsPerSecond: round(result.requestsPerSecond * ALERTS_PER_WEBHOOK, 0),
    latencyMs: result.latencyMs,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    cpuCores: { ...cpu, load: result.cpuCores },
    loadAverage: startedLoad,
  };
}

async function measureCeiling(ctx: Context): Promise<LoadFigures> {
  progress('ceiling: bare node:http server, the same webhooks');
  const startedLoad = loadAverage();
  const server = forkModule('./ceiling.ts', { logFile: join(ctx.workDir, 'ceiling.log') });
  const { url } = await nextMessage<{ url: string }>(server);
  const cpu = cpuMeter({ server: server.pid! });
  const result = await hammer(ctx, 'ceiling', `${url}${WEBHOOK_PATH}`, 'webhook');
  const used = cpu();
  await stop(server);
  return figures(result, used, startedLoad);
}

async function measureAlertmanager(ctx: Context): Promise<NonNullable<BenchReport['alertmanager']>> {
  progress('Alertmanager: POST /api/v2/alerts, the same alerts as postable alerts, the shipped route tree');
  const startedLoad = loadAverage();
  const dir = mkdtempSync(join(ctx.workDir, 'alertmanager-'));
  const alertmanager = await startAlertmanager(dir);
  const cpu = cpuMeter({ alertmanager: alertmanager.child.pid! });
  const perRequest = cpuPerUnit({ alertmanager: alertmanager.child.pid! });
  const result = await hammer(ctx, 'alertmanager', `${alertmanager.url}/api/v2/alerts`, 'postable');
  const used = cpu();
  const cpuUsPerRequest = perRequest(result.requests + result.warmupRequests);
  const peak = round(peakRssMb(alertmanager.child.pid!));
  await stop(alertmanager.child);
  return { ...figures(result, used, startedLoad), peakRssMb: peak, cpuUsPerRequest };
}

/** How long the backlog took to drain after the load's end, from the queue watch's samples. */
async function backlogAfter(watch: QueueWatch, endedAt: number, timeoutMs: number): Promise<Backlog> {
  const atLoadEnd = watch.at(endedAt)?.ingest ?? 0;
  const drained = await watch.until(endedAt, (sample) => sample.ingest === 0, timeoutMs);
  const idle =
    drained === null ? null : await watch.until(drained.at, (sample) => sample.ingest === 0 && sample.syncs === 0, timeoutMs - (drained.at - endedAt));
  const last = drained ?? watch.samples.at(-1)!;
  const seconds = (last.at - endedAt) / 1000;
  return {
    atLoadEnd,
    ingestDrainedMs: drained === null ? null : Math.max(0, drained.at - endedAt),
    syncsIdleMs: idle === null ? null : Math.max(0, idle.at - endedAt),
    processedPerSecond: atLoadEnd === 0 || seconds <= 0 ? null : round((atLoadEnd - last.ingest) / seconds, 0),
    leftAtTimeout: drained === null ? last.ingest : 0,
  };
}

async function measureRouterIngest(ctx: Context, deployment: Deployment): Promise<RouterIngest> {
  const phase = `ingest-${deployment}`;
  progress(
    `router ingest, ${deployment === 'single' ? 'one process (ROLE=all, as npm start runs it)' : `an api process and ${ctx.options.workers} workers`}: then the backlog drains`,
  );
  await flushRedis(ctx.redisUrl);
  const startedLoad = loadAverage();
  const peers = await startPeers(ctx, phase);
  const router = await startRouter(ctx, phase, peers.endpoints, deployment);
  const watch = new QueueWatch(ctx.redisUrl, PREFIX);
  try {
    const redisBefore = await redisCounters(ctx.redisUrl);
    const pids = { ...router.pids, redis: ctx.redis.pid!, peers: peers.child.pid! };
    const cpu = cpuMeter(pids);
    const perWebhookCpu = cpuPerUnit(pids);
    const waited = runnableWaitMeter({ webhook: router.api.pid });
    const result = await hammer(ctx, phase, `${router.api.url}${WEBHOOK_PATH}`, 'webhook', secrets.webhookToken);
    const used = cpu();
    const webhookWaitedForCore = waited().webhook!;
    const drainCpu = cpuMeter(pids);
    const backlog = await backlogAfter(watch, result.endedAt, ctx.options.drainTimeoutSeconds * 1000);
    const drainCpuCores = drainCpu();
    const cpuUsPerWebhook = perWebhookCpu(result.requests + result.warmupRequests);
    const peakRss = routerPeakRss(router);
    const redis = perWebhook(redisBefore, await redisCounters(ctx.redisUrl), result.requests + result.warmupRequests);
    return {
      ...figures(result, used, startedLoad),
      deployment,
      backlog,
      drainCpuCores,
      peakRss,
      toAlertmanager: null,
      toCeiling: null,
      redis,
      cpuUsPerWebhook,
      webhookWaitedForCore,
    };
  } finally {
    await watch.close();
    await router.stop();
    await stop(peers.child);
  }
}

async function incidentsOf(router: Router): Promise<ListedIncident[]> {
  const response = await fetch(`${router.api.url}/api/v1/incidents?limit=1000`, { headers: { authorization: `Bearer ${secrets.adminToken}` } });
  if (!response.ok) throw new Error(`GET /api/v1/incidents: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { incidents: ListedIncident[] }).incidents;
}

async function measureStorm(ctx: Context): Promise<StormFigures> {
  const { options } = ctx;
  const deployment: Deployment = options.singleProcess ? 'single' : 'split';
  const plan = planStorm(groupsOf(options.groups), options.stormAlerts, options.stormSeconds);
  progress(
    `storm: ${plan.webhooks.length * ALERTS_PER_WEBHOOK} alerts in ${options.stormSeconds} s over ${options.groups} incident keys, to the Slack, email and PagerDuty peers`,
  );
  await flushRedis(ctx.redisUrl);
  const startedLoad = loadAverage();
  const peers = await startPeers(ctx, 'storm');
  const router = await startRouter(ctx, 'storm', peers.endpoints, deployment);
  const watch = new QueueWatch(ctx.redisUrl, PREFIX);
  try {
    const redisBefore = await redisCounters(ctx.redisUrl);
    const sender = forkModule('./storm-sender.ts', { logFile: join(ctx.workDir, 'storm-sender.log') });
    const cpu = cpuMeter({ ...router.pids, redis: ctx.redis.pid!, peers: peers.child.pid! });
    const waited = runnableWaitMeter({ webhook: router.api.pid });
    const request: StormRequest = { url: router.api.url, token: secrets.webhookToken, plan, seedPrefix: 's' };
    const sent = await ask<StormSent>(sender, request);
    const webhookWaitedForCore = waited().webhook!;
    const settled = await watch.until(sent.endedAt, (sample) => sample.ingest === 0 && sample.syncs === 0, options.drainTimeoutSeconds * 1000);
    // A duplicate would come after the original: give it a moment to show up.
    await sleep(1000);
    const cpuCores = { ...cpu(), sender: sent.cpuCores };
    const redis = perWebhook(redisBefore, await redisCounters(ctx.redisUrl), plan.webhooks.length);
    const receipts = (await ask<{ receipts: Receipt[] }>(peers.child, { type: 'take' })).receipts;
    const account = accountStorm(plan, sent.webhooks, receipts, await incidentsOf(router), EMAIL_RECEIVER);
    const latencies = sent.webhooks.map((webhook) => webhook.latencyMs);
    return {
      deployment,
      loadAverage: startedLoad,
      seconds: options.stormSeconds,
      alerts: plan.webhooks.length * ALERTS_PER_WEBHOOK,
      webhooks: plan.webhooks.length,
      non2xx: sent.webhooks.filter((webhook) => webhook.status !== 202).length,
      webhookLatencyMs: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), max: round(percentile(latencies, 100)) },
      account,
      settledMs: settled === null ? null : Math.max(0, round(settled.at - sent.endedAt, 0)),
      peakRss: routerPeakRss(router),
      cpuCores,
      webhookWaitedForCore,
      redis,
    };
  } finally {
    await watch.close();
    await router.stop();
    await stop(peers.child);
  }
}

function commit(): { commit: string; srcDirty: boolean } {
  const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim();
  return { commit: git('rev-parse', '--short', 'HEAD'), srcDirty: git('status', '--porcelain', '--', 'src').length > 0 };
}

async function main(): Promise<void> {
  const options = benchOptions(process.env, process.argv.slice(2));
  // Other work on the machine skews every figure but the ratios: say how busy it was.
  const startedLoad = loadAverage();
  const workDir = mkdtempSync(join(tmpdir(), 'alertcenter-bench-'));
  const runs = (phase: BenchOptions['phases'][number]) => options.phases.includes(phase);
  progress(`${options.smoke ? 'smoke run' : 'full run'} (${options.phases.join(', ')}); load average ${startedLoad}; logs in ${workDir}`);
  progress('building the router (npm run build)');
  await buildRouter(join(workDir, 'build.log'));
  const redis = await startRedis(workDir);
  const ctx: Context = { options, workDir, redisUrl: redis.url, redis: redis.child };

  const ceiling = runs('ceiling') ? await measureCeiling(ctx) : null;
  const alertmanager = runs('alertmanager') ? await measureAlertmanager(ctx) : null;
  const ingest: BenchReport['ingest'] = {};
  for (const deployment of ['single', 'split'] as const) {
    if (!runs(deployment)) continue;
    const measured = await measureRouterIngest(ctx, deployment);
    measured.toAlertmanager = alertmanager ? round(measured.requestsPerSecond / alertmanager.requestsPerSecond, 2) : null;
    measured.toCeiling = ceiling ? round(measured.requestsPerSecond / ceiling.requestsPerSecond, 3) : null;
    ingest[deployment] = measured;
  }
  const storm = runs('storm') ? await measureStorm(ctx) : null;
  await stop(redis.child);

  const peaks = [...Object.values(ingest).map((figures) => figures.peakRss.largestMb), ...(storm ? [storm.peakRss.largestMb] : [])];
  const report: BenchReport = {
    date: new Date().toISOString(),
    loadAverage: startedLoad,
    loadAverageEnd: loadAverage(),
    ...commit(),
    smoke: options.smoke,
    phases: options.phases,
    routerEnv: options.routerEnv,
    connections: options.connections,
    ingestSeconds: options.ingestSeconds,
    ingestAmount: options.ingestAmount ?? null,
    alertsPerRequest: ALERTS_PER_WEBHOOK,
    groups: options.groups,
    workers: options.workers,
    workerNice: options.workerNice,
    ceiling,
    alertmanager,
    ingest,
    storm,
    peakRssMb: peaks.length === 0 ? null : Math.max(...peaks),
    targets: {},
  };
  report.targets = targetsOf(report);
  printTable(report, options.drainTimeoutSeconds);
  if (options.profile) progress(`CPU profiles (*.cpuprofile) of the router processes kept in ${workDir}/profiles-*`);
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
  progress(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  await stopAll();
  process.exit(1);
});
