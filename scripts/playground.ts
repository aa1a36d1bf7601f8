/**
 * `npm run playground`: the shipped rules firing for real, within minutes.
 * - a simulated Maestro exporter (src/simulator/maestro.ts, the code that fills the report tests' TSDB),
 *   its last 31 days backfilled with `promtool tsdb create-blocks-from openmetrics`, then scraped live;
 * - Debian's Prometheus with deploy/prometheus/maestro-slo-rules.yaml, and Alertmanager with
 *   deploy/alertmanager/alertmanager.yml (its webhook pointed at the local router);
 * - the router (this process), with local stand-ins for Slack, SMTP and PagerDuty (test/peers) that
 *   print what they receive.
 * Type `<slo> healthy|warning|critical` to switch an SLO's burn, `report` for this week's review,
 * `status`, or Ctrl-C to stop everything it started. Everything lives in a temporary folder.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { loadSloCatalog } from '../src/alerts/slo-catalog.js';
import { errorBudget } from '../src/alerts/slo-rules.js';
import { loadConfig } from '../src/config/env.js';
import { renderMarkdown } from '../src/report/render.js';
import { ReportService } from '../src/report/service.js';
import { weekOf } from '../src/report/week.js';
import { startRouter } from '../src/server.js';
import { DEFAULT_SCENARIO, MaestroSimulator, SIM_SLOS, type SimMode, type SimSlo, setMode } from '../src/simulator/maestro.js';
import { checkPrometheusTools, createBlocksFromOpenMetrics, freePort, startPrometheus } from '../src/simulator/prometheus-process.js';
import { startChannelPeers } from '../test/peers/channel-peers.js';

const say = (line: string) => process.stdout.write(`${line}\n`);
const HISTORY_DAYS = 31;

const missing = await checkPrometheusTools(['prometheus', 'promtool', 'prometheus-alertmanager']);
if (missing) {
  process.stderr.write(`playground: ${missing}\n`);
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'alertcenter-playground-'));
const cleanups: Array<() => Promise<void> | void> = [() => rmSync(dir, { recursive: true, force: true })];
let stopping = false;
async function stopAll(code: number): Promise<never> {
  if (stopping) process.exit(code);
  stopping = true;
  say('\nplayground: stopping everything it started...');
  for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => {});
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

try {
  const catalog = loadSloCatalog('routing/slos.yaml');

  // The simulator: 31 days of history up to this minute, then live.
  const now = Math.floor(Date.now() / 60_000) * 60_000;
  const simulator = new MaestroSimulator(structuredClone(DEFAULT_SCENARIO), now - HISTORY_DAYS * 86_400_000);
  say(`playground: backfilling ${HISTORY_DAYS} days of simulated Maestro SLI counters (promtool)...`);
  const promDir = join(dir, 'prometheus');
  await createBlocksFromOpenMetrics(simulator.toOpenMetrics(now), dir, join(promDir, 'data'));

  const exporterPort = await freePort();
  const exporter = createServer((req, res) => {
    if (req.url !== '/metrics') return void res.writeHead(404).end();
    const elapsed = Date.now() - simulator.now;
    if (elapsed > 0) simulator.step(elapsed);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(simulator.exposition());
  });
  await new Promise<void>((done) => exporter.listen(exporterPort, '127.0.0.1', () => done()));
  cleanups.push(() => new Promise<void>((done) => exporter.close(() => done())));

  // Stand-ins for the channels, printing what arrives.
  const peers = await startChannelPeers();
  cleanups.push(() => peers.close());
  const seen = { slack: 0, smtp: 0, pagerduty: 0 };
  const printer = setInterval(() => {
    for (const call of peers.slack.received.slice(seen.slack)) {
      if (call.method.startsWith('chat.')) say(`[slack] ${call.method} ${String(call.args.channel ?? '')}: ${String(call.args.text ?? '').split('\n')[0]}`);
    }
    seen.slack = peers.slack.received.length;
    for (const mail of peers.smtp.received.slice(seen.smtp)) say(`[smtp] to ${mail.envelope.to.join(', ')}: ${mail.parsed.subject}`);
    seen.smtp = peers.smtp.received.length;
    for (const request of peers.pagerduty.received.slice(seen.pagerduty)) {
      const event = request.event;
      say(`[pagerduty] ${event.event_action} ${event.dedup_key ?? ''}: ${event.payload?.summary ?? ''} (${event.payload?.severity ?? ''})`);
    }
    seen.pagerduty = peers.pagerduty.received.length;
  }, 500);
  cleanups.push(() => clearInterval(printer));

  // Prometheus with the shipped rules and the simulator as its target; Alertmanager with the shipped config.
  const [promPort, amPort, routerPort] = [await freePort(), await freePort(), await freePort()];
  const rulesFile = resolve('deploy/prometheus/maestro-slo-rules.yaml');
  const prometheus = await startPrometheus({
    dir: promDir,
    port: promPort,
    config: [
      'global: { scrape_interval: 15s, evaluation_interval: 15s }',
      `rule_files: ['${rulesFile}']`,
      `alerting: { alertmanagers: [ { static_configs: [ { targets: ['127.0.0.1:${amPort}'] } ] } ] }`,
      'scrape_configs:',
      '  - job_name: maestro-api',
      `    static_configs: [ { targets: ['127.0.0.1:${exporterPort}'] } ]`,
      // The backfilled series carry instance="maestro-simulator": the live ones continue them.
      '    relabel_configs: [ { target_label: instance, replacement: maestro-simulator } ]',
      '',
    ].join('\n'),
  });
  cleanups.push(() => prometheus.stop());

  const webhookToken = 'playground-webhook-token';
  const tokenFile = join(dir, 'alertcenter-webhook.token');
  writeFileSync(tokenFile, webhookToken);
  const amConfig = readFileSync('deploy/alertmanager/alertmanager.yml', 'utf8')
    .replace('http://127.0.0.1:8080/api/v1/webhooks/alertmanager', `http://127.0.0.1:${routerPort}/api/v1/webhooks/alertmanager`)
    .replace('/etc/prometheus/alertcenter-webhook.token', tokenFile);
  const amConfigFile = join(dir, 'alertmanager.yml');
  writeFileSync(amConfigFile, amConfig);
  const alertmanager: ChildProcess = spawn(
    'prometheus-alertmanager',
    [`--config.file=${amConfigFile}`, `--storage.path=${join(dir, 'alertmanager')}`, `--web.listen-address=127.0.0.1:${amPort}`, '--cluster.listen-address='],
    { stdio: 'ignore' },
  );
  cleanups.push(() => void alertmanager.kill('SIGTERM'));

  // The router, its JSON log in a file to keep this terminal readable.
  const logFile = join(dir, 'router.log');
  const config = loadConfig({
    ...process.env,
    PORT: String(routerPort),
    HOST: '127.0.0.1',
    REDIS_PREFIX: process.env.PLAYGROUND_REDIS_PREFIX ?? 'alertcenter-playground',
    WEBHOOK_TOKENS: webhookToken,
    ADMIN_TOKEN: '',
    PROMETHEUS_URL: prometheus.url,
    REPORT_EMAIL_TO: '',
    ...peers.env,
  });
  const router = await startRouter(config, pino({ level: 'info' }, pino.destination({ dest: logFile, sync: false })));
  cleanups.push(() => router.stop());

  const report = new ReportService({ config, catalog, incidents: router.incidents });
  say(
    [
      '',
      `Prometheus     ${prometheus.url}/alerts     (rules: deploy/prometheus/maestro-slo-rules.yaml)`,
      `Alertmanager   http://127.0.0.1:${amPort}`,
      `Router         ${router.url}/api/v1/incidents     (log: ${logFile})`,
      `Report         ${router.url}/api/v1/reports/weekly?week=${weekOf(Date.now(), config.report.timeZone).id}&format=html`,
      '',
      'Type a command:',
      `  <slo> healthy|warning|critical    SLOs: ${SIM_SLOS.join(', ')}`,
      '     warning fires the 6x warning tier within a minute or two; critical the two critical tiers (a page);',
      "     healthy resolves them (after the router's 5 minute hold-down). Bursts spend budget as real ones do.",
      "  status    each SLO's burn now (5m, 1h, 6h) from Prometheus, and the firing alerts",
      "  report    this week's SLO review so far (Markdown)",
      '  quit      (or Ctrl-C) stop everything',
      '',
    ].join('\n'),
  );

  const query = async (expr: string) => {
    const res = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
    return body.data.result;
  };

  const input = createInterface({ input: process.stdin });
  input.on('close', () => void stopAll(0));
  for await (const line of input) {
    const [first, second] = line.trim().split(/\s+/);
    try {
      if (first === 'quit' || first === 'exit') await stopAll(0);
      else if (first === 'status') {
        for (const slo of SIM_SLOS) {
          const budget = errorBudget(catalog.byName.get(slo)!);
          const burn = async (window: string) => {
            const [sample] = await query(`slo:sli_error:ratio_rate${window}{slo="${slo}"}`);
            return sample ? `${(Number(sample.value[1]) / budget).toFixed(1)}x` : 'n/a';
          };
          const [left] = await query(`slo:error_budget_remaining:ratio{slo="${slo}"}`);
          say(
            `${slo}: burn 5m ${await burn('5m')}, 1h ${await burn('1h')}, 6h ${await burn('6h')}; budget left ${left ? `${(Number(left.value[1]) * 100).toFixed(1)}%` : 'n/a'}`,
          );
        }
        for (const alert of await query('ALERTS{alertstate="firing"}'))
          say(`  firing: ${alert.metric.alertname} ${alert.metric.slo} ${alert.metric.severity} ${alert.metric.long_window ?? ''}`);
      } else if (first === 'report') say(renderMarkdown(await report.build(weekOf(Date.now(), config.report.timeZone).id, false)));
      else if ((SIM_SLOS as readonly string[]).includes(first ?? '') && ['healthy', 'warning', 'critical'].includes(second ?? '')) {
        const slo = first as SimSlo;
        const elapsed = Date.now() - simulator.now;
        if (elapsed > 0) simulator.step(elapsed);
        setMode(simulator, slo, second as SimMode, errorBudget(catalog.byName.get(slo)!));
        say(`${slo} is now ${second}; the next scrape (15 s) shows it, the rules evaluate every 15 s, Alertmanager waits 10-30 s.`);
      } else if (first) say('commands: <slo> healthy|warning|critical, status, report, quit');
    } catch (error) {
      say(`error: ${(error as Error).message}`);
    }
  }
} catch (error) {
  process.stderr.write(`playground: ${(error as Error).message}\n`);
  await stopAll(1);
}
