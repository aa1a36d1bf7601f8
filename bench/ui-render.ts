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
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { loadSloCatalog } from '../src/alerts/slo-catalog.js';
import { normalizePayload } from '../src/alerts/normalize.js';
import { parseWebhookPayload } from '../src/alerts/schema.js';
import { loadConfig } from '../src/config/env.js';
import { IncidentStore } from '../src/incidents/store.js';
import { createLogger } from '../src/observability/logger.js';
import { batchByIncident, updateIncident } from '../src/pipeline/incidents.js';
import { parseRoutingConfig, readRoutingFile } from '../src/routing/config.js';
import { startRouter } from '../src/server.js';

const { values } = parseArgs({ options: { incidents: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '30' } } });
const count = Number(values.incidents);
const rounds = Number(values.rounds);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `bench-ui-${randomUUID().slice(0, 8)}`;
const token = 'bench-ui-admin-token-0123456789';
const env = { ...process.env, SLACK_CHANNEL: '#maestro-alerts', EMAIL_TO: 'ops@maestro.example' };

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
              labels: { alertname: 'MaestroSLOErrorBudgetBurn', slo: slos[n % slos.length]!, service: `bench-${n}`, severity, long_window: severity === 'critical' ? '1h' : '6h' },
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
        for (const batch of batchByIncident(alerts, now, routing, new Date(now))) {
          const { incident } = await updateIncident(batch, store, routing, now);
          if (!incident) continue;
          for (const receiver of Object.keys(incident.receivers)) {
            await store.recordTold(incident.id, receiver, { rev: incident.rev, state: incident.state, severity: incident.severity, figures: '', acknowledged: false, firstAt: now, lastAt: now, receipt: { slack: { channel: 'C0123', ts: `${now / 1000}` } }, sent: 1 }, [
              { at: new Date(now).toISOString(), kind: 'notification_sent', receiver, channel: 'slack', decision: 'first_notification', action: 'post', receipt: {} },
            ]);
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

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function main(): Promise<void> {
  await seed();
  const config = loadConfig({ ...env, ROLE: 'api', PORT: '0', REDIS_URL: redisUrl, REDIS_PREFIX: prefix, ADMIN_TOKEN: token, LOG_LEVEL: 'warn' });
  const router = await startRouter(config, createLogger('warn'));
  const results: Record<string, { p50: number; p95: number; max: number; bytes: number }> = {};
  try {
    const login = await fetch(`${router.url}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${token}` });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
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
    const keys = await redis.keys(`${prefix}:*`);
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
    redis.disconnect();
  }
  console.log(`server time (Server-Timing, ms) over ${rounds} requests with ${count} incidents in Redis; target: under 300 ms`);
  console.log('path                              p50      p95      max     bytes');
  for (const [path, r] of Object.entries(results)) {
    console.log(`${path.padEnd(32)} ${r.p50.toFixed(1).padStart(7)} ${r.p95.toFixed(1).padStart(8)} ${r.max.toFixed(1).padStart(8)} ${String(r.bytes).padStart(9)}`);
  }
  console.log(JSON.stringify({ bench: 'ui-render', incidents: count, rounds, results }));
}

await main();
