/**
 * The AlertCenter page's server time with many incidents in Redis (issue: under 300 ms with 1,000).
 *
 *   npm run bench:ui [-- --incidents 1000 --rounds 30]
 *
 * Seeds N incidents (each one SLO tier of its own service, as the pipeline writes them, with a
 * notification log for two receivers) under a fresh key prefix of the Redis at REDIS_URL
 * (127.0.0.1:6379 by default), starts a router (ROLE=api) in this process, signs in, and asks for
 * the page and the incident rows (100 rows, the default, and all of them); prints the server time
 * each answer's Server-Timing header gives (Redis reads and rendering), p50/p95/max, and one JSON
 * line. Deletes its keys at the end.
 *
 * With `--pages 50 --storm-seconds 10`, then: storms of webhooks (`--rate` per second, 10 alerts
 * each, three SLOs) against a fresh router of ROLE=all, `--pairs` times (3) with no page open and
 * as often with that many pages following it (each holds /api/v1/events and reloads its live
 * sections on every event, as the page does), alternating; the webhook's p50/p99 of each kind, and
 * the router's CPU per webhook (the pages' cost is the difference). The storm's router runs as
 * `npm start` runs it (the production build, its heap cap, a process of its own), so that neither
 * the load generator's nor the pages' garbage collections count as the router's. For the issue's
 * target: 50 pages slow the webhook's p99 by at most 10%.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { normalizePayload } from '../src/alerts/normalize.js';
import { parseWebhookPayload } from '../src/alerts/schema.js';
import { loadSloCatalog } from '../src/alerts/slo-catalog.js';
import { loadConfig } from '../src/config/env.js';
import { IncidentStore } from '../src/incidents/store.js';
import { createLogger } from '../src/observability/logger.js';
import { batchByIncident, routeAlerts, updateIncident } from '../src/pipeline/incidents.js';
import { keyPatterns } from '../src/queue/keys.js';
import { parseRoutingConfig, readRoutingFile } from '../src/routing/config.js';
import { startRouter } from '../src/server.js';
import { serverSentEvents } from '../test/support/sse.js';
import { buildRouter, cpuSeconds, startRouterProcess, stop } from './processes.js';
import { percentile, round } from './stats.js';

const { values } = parseArgs({
  options: {
    incidents: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '30' },
    pages: { type: 'string', default: '0' },
    'storm-seconds': { type: 'string', default: '10' },
    rate: { type: 'string', default: '50' },
    pairs: { type: 'string', default: '3' },
    /** Internal: this process is the pages of a storm (`--follow <url> <cookie>`). */
    follow: { type: 'string' },
    cookie: { type: 'string' },
  },
});
const count = Number(values.incidents);
const rounds = Number(values.rounds);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `bench-ui-${randomUUID().slice(0, 8)}`;
const token = 'bench-ui-admin-token-0123456789';
const routerEnv = { SLACK_CHANNEL: '#maestro-alerts', EMAIL_TO: 'ops@maestro.example' };
const env = { ...process.env, ...routerEnv };

const redis = new Redis(redisUrl);
const store = new IncidentStore(redis, prefix);
const catalog = loadSloCatalog('routing/slos.yaml');
const routing = parseRoutingConfig(readRoutingFile('routing/routes.yaml'), 'routing/routes.yaml', env);
const slos = catalog.slos.map((slo) => slo.name);

async function seed(): Promise<void> {
  const started = performance.now();
  for (let i = 0; i < count; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, async (_, j) => {
        const n = i + j;
        const severity = n % 3 === 0 ? 'critical' : 'warning';
        const payload = parseWebhookPayload({
          receiver: 'alertcenter',
          status: 'firing',
          alerts: [
            {
              status: n % 4 === 0 ? 'resolved' : 'firing',
              labels: {
                alertname: 'MaestroSLOErrorBudgetBurn',
                slo: slos[n % slos.length]!,
                service: `bench-${n}`,
                severity,
                long_window: severity === 'critical' ? '1h' : '6h',
              },
              annotations: { summary: 'burning', burn_rate: '15.1', burn_rate_short: '22.4', burn_rate_long: '15.1', error_budget_remaining: '0.61' },
              startsAt: new Date(Date.now() - n * 60_000).toISOString(),
              endsAt: n % 4 === 0 ? new Date().toISOString() : '0001-01-01T00:00:00Z',
              generatorURL: 'http://prometheus.maestro.example:9090/graph',
              fingerprint: `bench${n}`,
            },
          ],
          groupLabels: {},
          commonLabels: {},
          commonAnnotations: {},
          externalURL: 'http://alertmanager.maestro.example:9093',
          version: '4',
          groupKey: `{}:{n="${n}"}`,
          truncatedAlerts: 0,
        });
        if (!parsed(payload)) throw new Error('bench payload refused');
        const alerts = normalizePayload(payload.payload, { catalog, defaultSeverity: 'warning' });
        const now = Date.now();
        for (const batch of batchByIncident(routeAlerts(alerts, routing, new Date(now)), now)) {
          const { incident } = await updateIncident(batch, store, routing, now);
          if (!incident) continue;
          for (const receiver of Object.keys(incident.receivers)) {
            await store.recordTold(
              incident.id,
              receiver,
              {
                rev: incident.rev,
                state: incident.state,
                severity: incident.severity,
                figures: '',
                acknowledged: false,
                firstAt: now,
                lastAt: now,
                receipt: { slack: { channel: 'C0123', ts: `${now / 1000}` } },
                sent: 1,
              },
              [
                {
                  at: new Date(now).toISOString(),
                  kind: 'notification_sent',
                  receiver,
                  channel: 'slack',
                  decision: 'first_notification',
                  action: 'post',
                  receipt: {},
                },
              ],
            );
          }
        }
      }),
    );
  }
  console.log(`seeded ${count} incidents under ${prefix} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

function parsed(result: ReturnType<typeof parseWebhookPayload>): result is Extract<ReturnType<typeof parseWebhookPayload>, { ok: true }> {
  return result.ok;
}

async function main(): Promise<void> {
  await seed();
  const config = loadConfig({ ...env, ROLE: 'api', PORT: '0', REDIS_URL: redisUrl, REDIS_PREFIX: prefix, ADMIN_TOKEN: token, LOG_LEVEL: 'warn' });
  const router = await startRouter(config, createLogger('warn'));
  await ready(router.url);
  const results: Record<string, { p50: number; p95: number; max: number; bytes: number }> = {};
  try {
    const cookie = await signIn(router.url);
    for (const path of ['/', '/ui/incidents/rows', '/?limit=1000', '/ui/incidents/rows?limit=1000']) {
      const times: number[] = [];
      let bytes = 0;
      for (let i = 0; i < rounds + 3; i++) {
        const res = await fetch(`${router.url}${path}`, { headers: { cookie } });
        bytes = (await res.arrayBuffer()).byteLength;
        if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
        const dur = Number(/dur=([\d.]+)/.exec(res.headers.get('server-timing') ?? '')?.[1]);
        if (i >= 3) times.push(dur); // the first ones warm the JIT and the template cache
      }
      times.sort((a, b) => a - b);
      results[path] = { p50: percentile(times, 50), p95: percentile(times, 95), max: times.at(-1)!, bytes };
    }
  } finally {
    await router.stop();
    await deleteKeys(prefix);
  }
  console.log(`server time (Server-Timing, ms) over ${rounds} requests with ${count} incidents in Redis; target: under 300 ms`);
  console.log('path                              p50      p95      max     bytes');
  for (const [path, r] of Object.entries(results)) {
    console.log(
      `${path.padEnd(32)} ${r.p50.toFixed(1).padStart(7)} ${r.p95.toFixed(1).padStart(8)} ${r.max.toFixed(1).padStart(8)} ${String(r.bytes).padStart(9)}`,
    );
  }
  console.log(JSON.stringify({ bench: 'ui-render', incidents: count, rounds, results }));
  if (Number(values.pages) > 0) await storm(Number(values.pages), Number(values['storm-seconds']), Number(values.rate), Number(values.pairs));
  await new Promise((resolve) => setTimeout(resolve, 1_500)); // the last sweep
  redis.disconnect();
}

/** The session cookie of an operator signed in. */
async function signIn(url: string): Promise<string> {
  const login = await fetch(`${url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `token=${token}`,
  });
  return login.headers.get('set-cookie')!.split(';')[0]!;
}

/** Until its Redis connections are up, a router answers 503. */
async function ready(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await fetch(`${url}/readyz`).catch(() => null))?.ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('router not ready');
}

/**
 * The webhook's latency during a storm, without pages and with `pages` pages following it: `pairs`
 * storms of each, alternating, so that the machine's drift falls on both alike; p99 of all the
 * webhooks of each kind together, and each storm's own.
 */
async function storm(pages: number, seconds: number, rate: number, pairs: number): Promise<void> {
  const logDir = mkdtempSync(join(tmpdir(), 'alertcenter-bench-ui-'));
  console.log(`building the router (npm run build); the storms' router logs in ${logDir}`);
  await buildRouter(join(logDir, 'build.log'));
  // The first storm of a run is slower whatever it is (the load generator's own first seconds, the
  // machine settling): it would count against the side that comes first, so it is not counted.
  await stormOnce(0, seconds, rate, join(logDir, 'router-unmeasured.log'));
  const runs: Array<{ pages: number; latencies: number[]; reloads: number; cpuMs: number }> = [];
  for (let pair = 0; pair < pairs; pair++) {
    for (const open of [0, pages]) runs.push({ pages: open, ...(await stormOnce(open, seconds, rate, join(logDir, `router-${pair}-${open}.log`))) });
  }
  const figures: Record<string, { p50: number; p99: number; storms: number[]; webhooks: number; reloads: number; cpuMsPerWebhook: number }> = {};
  for (const open of [0, pages]) {
    const mine = runs.filter((run) => run.pages === open);
    const all = mine.flatMap((run) => run.latencies);
    figures[`${open} pages`] = {
      p50: percentile(all, 50),
      p99: percentile(all, 99),
      storms: mine.map((run) => round(percentile(run.latencies, 99))),
      webhooks: all.length,
      reloads: mine.reduce((sum, run) => sum + run.reloads, 0),
      cpuMsPerWebhook: round(mine.reduce((sum, run) => sum + run.cpuMs, 0) / all.length),
    };
  }
  const [without, withPages] = [figures['0 pages']!, figures[`${pages} pages`]!];
  console.log(
    `webhook latency (ms) during ${pairs} storms of ${seconds} s at ${rate} webhooks/s (10 alerts each) without pages, and ${pairs} with ${pages} pages following, alternating`,
  );
  for (const [name, f] of Object.entries(figures))
    console.log(
      `${name.padEnd(10)} p50 ${f.p50.toFixed(1).padStart(6)}  p99 ${f.p99.toFixed(1).padStart(6)} (each storm: ${f.storms.join(', ')})  webhooks ${f.webhooks}  page reloads ${f.reloads}  the router's CPU per webhook ${f.cpuMsPerWebhook} ms`,
    );
  const slower = withPages.p99 / without.p99 - 1;
  console.log(`p99 with ${pages} pages: ${slower >= 0 ? '+' : ''}${(slower * 100).toFixed(0)}% (target at most +10%: ${slower <= 0.1 ? 'met' : 'MISSED'})`);
  console.log(JSON.stringify({ bench: 'ui-storm', pages, seconds, rate, pairs, loadAverage: loadavg()[0], figures }));
}

/** Storm before each measured one, not measured (pages already following it). */
const STORM_WARMUP_SECONDS = 3;

/** One storm against a fresh router process (ROLE=all) with `open` pages following it. */
async function stormOnce(open: number, seconds: number, rate: number, logFile: string): Promise<{ latencies: number[]; reloads: number; cpuMs: number }> {
  const stormPrefix = `bench-ui-storm-${randomUUID().slice(0, 8)}`;
  const router = await startRouterProcess(
    { ...routerEnv, ROLE: 'all', REDIS_URL: redisUrl, REDIS_PREFIX: stormPrefix, ADMIN_TOKEN: token, LOG_LEVEL: 'warn' },
    { logFile },
  );
  try {
    const cookie = await signIn(router.url);
    // The pages run in a process of their own, as browsers would: their reading and parsing must
    // not be counted as the router's.
    const pagesProcess =
      open === 0
        ? null
        : fork(fileURLToPath(import.meta.url), ['--follow', router.url, '--cookie', cookie, '--pages', String(open)], {
            execArgv: ['--import', 'tsx'],
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          });
    const pagesDone = new Promise<number>((resolve) => {
      if (!pagesProcess) return resolve(0);
      pagesProcess.on('message', (message: unknown) => {
        if (typeof message === 'object' && message !== null) resolve((message as { reloads: number }).reloads);
      });
      pagesProcess.on('exit', () => resolve(0));
    });
    if (pagesProcess) await new Promise((resolve) => pagesProcess.once('message', resolve));
    // A fresh process compiles its hot paths during its first seconds: measure it warm, as it runs for days.
    await sendStorm(router.url, STORM_WARMUP_SECONDS, rate, 0);
    const cpuBefore = cpuSeconds(router.pid);
    const latencies = await sendStorm(router.url, seconds, rate, rate * STORM_WARMUP_SECONDS);
    const cpuMs = (cpuSeconds(router.pid) - cpuBefore) * 1000;
    pagesProcess?.send('stop');
    return { latencies, reloads: await pagesDone, cpuMs };
  } finally {
    await stop(router.child);
    // The queues' last writes may land after the router stopped: sweep again a moment later.
    await deleteKeys(stormPrefix);
    setTimeout(() => void deleteKeys(stormPrefix), 1_000);
  }
}

/** Storm webhooks `first`, `first + 1`, ... at `rate` a second for `seconds`: each one's latency, in ms. */
async function sendStorm(url: string, seconds: number, rate: number, first: number): Promise<number[]> {
  const latencies: number[] = [];
  const started = performance.now();
  const inflight: Array<Promise<void>> = [];
  for (let sent = 0; performance.now() - started < seconds * 1000; sent++) {
    const wait = started + (sent * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const body = stormPayload(first + sent);
    inflight.push(
      (async () => {
        const t0 = performance.now();
        const res = await fetch(`${url}/api/v1/webhooks/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        await res.arrayBuffer();
        latencies.push(performance.now() - t0);
      })(),
    );
  }
  await Promise.all(inflight);
  return latencies;
}

/** Every key of a prefix: the router's own (`<prefix>:...`) and those under its hash tags (`{<prefix>:...}`). */
async function deleteKeys(keyPrefix: string): Promise<void> {
  for (const pattern of [`${keyPrefix}:*`, ...keyPatterns(keyPrefix)]) {
    for await (const keys of redis.scanStream({ match: pattern, count: 1_000 }) as AsyncIterable<string[]>) if (keys.length > 0) await redis.unlink(...keys);
  }
}

/** One open page: the event stream, and a reload of its live sections per event, naming its generation. */
async function follow(url: string, cookie: string, signal: AbortSignal, reloaded: () => void): Promise<void> {
  const res = await fetch(`${url}/api/v1/events`, { headers: { cookie }, signal });
  try {
    for await (const { event, data } of serverSentEvents(res.body)) {
      if (event !== 'incident') continue;
      const gen = (JSON.parse(data) as { gen: string }).gen;
      await fetch(`${url}/ui/live?state=&slo=&severity=&gen=${gen}`, { headers: { cookie }, signal }).then((r) => r.arrayBuffer());
      reloaded();
    }
  } catch {
    // aborted at the end of the storm
  }
}

function stormPayload(n: number): string {
  const slo = slos[n % slos.length]!;
  return JSON.stringify({
    receiver: 'alertcenter',
    status: 'firing',
    alerts: Array.from({ length: 10 }, (_, i) => ({
      status: 'firing',
      labels: { alertname: 'MaestroSLOErrorBudgetBurn', slo, service: 'storm', severity: 'critical', long_window: '1h', instance: `i-${n}-${i}` },
      annotations: { summary: 'burning', burn_rate: String(14.4 + (n % 7)), burn_rate_short: '30', burn_rate_long: '15', error_budget_remaining: '0.5' },
      startsAt: new Date(Date.now() - 60_000).toISOString(),
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus.maestro.example:9090/graph',
      fingerprint: `storm${n}x${i}`,
    })),
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager.maestro.example:9093',
    version: '4',
    groupKey: `{}:{storm="${n}"}`,
    truncatedAlerts: 0,
  });
}

if (values.follow) {
  // The pages of a storm: follow until told to stop, then say how many reloads they made.
  const stop = new AbortController();
  setMaxListeners(0, stop.signal); // every page's every fetch listens to it
  let reloads = 0;
  const pages = Array.from({ length: Number(values.pages) }, () => follow(values.follow!, values.cookie!, stop.signal, () => reloads++));
  setTimeout(() => process.send?.('open'), 500);
  process.on('message', async () => {
    stop.abort();
    await Promise.allSettled(pages);
    process.send?.({ reloads }, () => process.exit(0));
  });
} else {
  await main();
}
