import type { LoadResult } from './load.js';
import { ALERTS_PER_WEBHOOK } from './payloads.js';
import type { RedisPerWebhook } from './redis-stats.js';
import type { StormAccount } from './storm.js';

export interface LoadFigures {
  requestsPerSecond: number;
  alertsPerSecond: number;
  latencyMs: LoadResult['latencyMs'];
  non2xx: number;
  /** Connection errors and timeouts. */
  errors: number;
  /** Cores each process used during the load (warm-up included; the load generator: measured part only). */
  cpuCores: Record<string, number>;
  /** 1-minute load average when the phase started. */
  loadAverage: number;
}

/** Peak RSS (VmHWM) of the router's processes during a phase, in MB. */
export interface PeakRss {
  /** Each process is its own container: this is what its memory limit must hold. */
  largestMb: number;
  togetherMb: number;
  byProcess: Record<string, number>;
}

/** The router's ingest queue after the load: what was left, and how long it took to empty. */
export interface Backlog {
  /** Webhooks accepted and not yet processed when the load ended. */
  atLoadEnd: number;
  /** From the load's last answer until the `ingest` queue had nothing waiting, active or delayed; null: not within the timeout. */
  ingestDrainedMs: number | null;
  /** Until the sync queues were idle too (every channel told); null: not within the timeout. */
  syncsIdleMs: number | null;
  /** Webhooks processed per second after the load ended (while a backlog was left). */
  processedPerSecond: number | null;
  /** Left in the ingest queue when the bench stopped waiting (0 when drained). */
  leftAtTimeout: number;
}

export type Deployment = 'single' | 'split';

export interface RouterIngest extends LoadFigures {
  deployment: Deployment;
  backlog: Backlog;
  /** Cores each process used while the backlog drained. */
  drainCpuCores: Record<string, number>;
  peakRss: PeakRss;
  /** Webhooks/s against Alertmanager's requests/s of the same alerts (null without the Alertmanager phase). */
  toAlertmanager: number | null;
  toCeiling: number | null;
  /** Diagnostic, over the load and the drain: what each webhook (warm-up included) cost Redis. */
  redis: RedisPerWebhook;
  /**
   * CPU each process spent per webhook from the load's start until the backlog drained (or the
   * bench stopped waiting), in microseconds: accepting and processing it. Less sensitive to other
   * work on the machine than throughput; compare with Alertmanager's cpuUsPerRequest.
   */
  cpuUsPerWebhook: Record<string, number>;
  /** Seconds per second the webhook's process was runnable but waiting for a core during the load. */
  webhookWaitedForCore: number;
}

export interface StormFigures {
  deployment: Deployment;
  loadAverage: number;
  seconds: number;
  alerts: number;
  webhooks: number;
  non2xx: number;
  /** The webhook's latency as the sender saw it during the storm. */
  webhookLatencyMs: { p50: number; p99: number; max: number };
  account: StormAccount;
  /** From the storm's last answer until the ingest and sync queues were idle; null: not within the timeout. */
  settledMs: number | null;
  peakRss: PeakRss;
  cpuCores: Record<string, number>;
  /**
   * Seconds per second the webhook's process was runnable but waiting for a core during the storm
   * (/proc/<pid>/schedstat): on a shared machine, the latency other work adds.
   */
  webhookWaitedForCore: number;
  redis: RedisPerWebhook;
}

export type TargetName = 'ingestSingle' | 'ingestSplit' | 'drainSingle' | 'drainSplit' | 'stormLatency' | 'firstPage' | 'stormOnePerIncident' | 'memory';

export interface BenchReport {
  date: string;
  /** 1-minute load average when the run started and when it ended: other work skews all but ratios. */
  loadAverage: number;
  loadAverageEnd: number;
  commit: string;
  /** True when src/ had uncommitted changes: the figures are not exactly those of `commit`. */
  srcDirty: boolean;
  smoke: boolean;
  phases: string[];
  /** Router settings changed for an experiment (BENCH_ROUTER_ENV); empty for a real result. */
  routerEnv: Record<string, string>;
  connections: number;
  ingestSeconds: number;
  /** The smoke run loads by count: this many requests after `warmupAmount`, instead of `ingestSeconds`. */
  ingestAmount: number | null;
  alertsPerRequest: number;
  groups: number;
  workers: number;
  workerNice: number;
  ceiling: LoadFigures | null;
  /** `cpuUsPerRequest`: Alertmanager's CPU per request of 10 alerts (warm-up included), in microseconds. */
  alertmanager: (LoadFigures & { peakRssMb: number; cpuUsPerRequest: Record<string, number> }) | null;
  ingest: Partial<Record<Deployment, RouterIngest>>;
  storm: StormFigures | null;
  /** The largest peak of any of the router's processes, in any phase. */
  peakRssMb: number | null;
  /** Only the targets of the phases that ran. */
  targets: Partial<Record<TargetName, boolean>>;
}

/** Issue 13's targets for this 2-core machine. */
export const TARGETS = {
  ingestToAlertmanager: 1.5,
  drainMs: 10_000,
  stormWebhookP99Ms: 50,
  firstPageMs: 1_000,
  peakRssMb: 200,
};

export function targetsOf(report: BenchReport): BenchReport['targets'] {
  const targets: BenchReport['targets'] = {};
  const { single, split } = report.ingest;
  const ingestMet = (ingest: RouterIngest) =>
    ingest.toAlertmanager !== null && ingest.toAlertmanager >= TARGETS.ingestToAlertmanager && ingest.non2xx === 0 && ingest.errors === 0;
  const drained = (ingest: RouterIngest) => ingest.backlog.ingestDrainedMs !== null && ingest.backlog.ingestDrainedMs <= TARGETS.drainMs;
  if (single) Object.assign(targets, { ingestSingle: ingestMet(single), drainSingle: drained(single) });
  if (split) Object.assign(targets, { ingestSplit: ingestMet(split), drainSplit: drained(split) });
  const { storm } = report;
  if (storm) {
    const { account } = storm;
    targets.stormLatency = storm.webhookLatencyMs.p99 <= TARGETS.stormWebhookP99Ms && storm.non2xx === 0;
    targets.firstPage = account.firstPageMs.paged === account.groups && account.firstPageMs.max <= TARGETS.firstPageMs;
    targets.stormOnePerIncident = account.exactGroups === account.groups && account.unmatched === 0;
  }
  if (report.peakRssMb !== null) targets.memory = report.peakRssMb < TARGETS.peakRssMb;
  return targets;
}

const verdict = (met: boolean | undefined) => (met === undefined ? 'not run' : met ? 'met' : 'MISSED');
const megabytes = (byProcess: Record<string, number>) =>
  Object.entries(byProcess)
    .map(([name, mb]) => `${name} ${mb}`)
    .join(', ');
const cores = (cpu: Record<string, number>) =>
  Object.entries(cpu)
    .map(([name, used]) => `${name} ${used}`)
    .join(', ');
const redisLine = (redis: RedisPerWebhook) =>
  `${redis.bytesIn} bytes in, ${redis.bytesOut} out; most time in ${redis.top.map((top) => `${top.command} ${top.calls}x ${top.usec} us`).join(', ')}`;
const ms = (value: number | null, timeoutNote: string) => (value === null ? `not within ${timeoutNote}` : `${(value / 1000).toFixed(1)} s`);

export function printTable(report: BenchReport, drainTimeoutSeconds: number): void {
  const { ceiling, alertmanager, ingest, storm, targets } = report;
  const load = (name: string, f: LoadFigures | null | undefined) =>
    f
      ? [
          name,
          String(f.requestsPerSecond),
          String(f.alertsPerSecond),
          `${f.latencyMs.p50} / ${f.latencyMs.p99} / ${f.latencyMs.p99_9}`,
          String(f.non2xx + f.errors),
          String(f.loadAverage),
          cores(f.cpuCores),
        ]
      : [name, 'not run', '', '', '', '', ''];
  const rows = [
    ['', 'requests/s', 'alerts/s', 'p50 / p99 / p99.9 ms', 'non-2xx+err', 'load avg', 'CPU cores used'],
    load('ceiling (bare node:http)', ceiling),
    load('Alertmanager POST /api/v2/alerts', alertmanager),
    load('router, one process (ROLE=all)', ingest.single),
    load(`router, api + ${report.workers} workers`, ingest.split),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const align = (cell: string, column: number) => (column === 0 || column === 6 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!));
  const timeout = `${drainTimeoutSeconds} s`;
  const ingestLines = (['single', 'split'] as const).flatMap((deployment) => {
    const figures = ingest[deployment];
    if (!figures) return [];
    const { backlog } = figures;
    const name = deployment === 'single' ? 'one process' : 'api + workers';
    const target = deployment === 'single' ? (['ingestSingle', 'drainSingle'] as const) : (['ingestSplit', 'drainSplit'] as const);
    return [
      `${name}: ${figures.toAlertmanager ?? '?'}x Alertmanager${figures.toCeiling === null ? '' : `, ${figures.toCeiling} of the ceiling`}  (target >= ${TARGETS.ingestToAlertmanager}x: ${verdict(targets[target[0]])})`,
      `  backlog at the load's end ${backlog.atLoadEnd} webhooks; ingest queue empty after ${ms(backlog.ingestDrainedMs, timeout)}${backlog.leftAtTimeout > 0 ? ` (${backlog.leftAtTimeout} left)` : ''}, sync queues idle after ${ms(backlog.syncsIdleMs, timeout)}; processed ${backlog.processedPerSecond ?? '-'} webhooks/s while draining  (target <= ${TARGETS.drainMs / 1000} s: ${verdict(targets[target[1]])})`,
      `  CPU cores while draining: ${cores(figures.drainCpuCores)}; peak RSS MB: ${megabytes(figures.peakRss.byProcess)}`,
      `  the webhook's process used ${figures.cpuCores[deployment === 'single' ? 'router' : 'api']} cores during the load and waited for a core ${figures.webhookWaitedForCore} s/s`,
      `  CPU per webhook, accepted and processed (us): ${cores(figures.cpuUsPerWebhook)}${alertmanager ? `; Alertmanager per request: ${cores(alertmanager.cpuUsPerRequest)}` : ''}`,
      `  Redis per webhook: ${redisLine(figures.redis)}`,
    ];
  });
  const stormLines = storm
    ? (() => {
        const a = storm.account;
        const each = (name: string, s: { min: number; max: number; total: number }) =>
          `${name} ${s.min === s.max ? s.min : `${s.min}-${s.max}`} (${s.total} in all)`;
        return [
          `Storm: ${storm.alerts} alerts in ${storm.seconds} s (${storm.webhooks} webhooks of ${ALERTS_PER_WEBHOOK}, distinct instances) over ${a.groups} incident keys (3 SLOs x ${a.groups / 3} services), each warning first then escalating to critical; router ${storm.deployment === 'single' ? 'one process (ROLE=all)' : `api + ${report.workers} workers`}; load average ${storm.loadAverage}`,
          `per incident key: ${each('incidents', a.incidents)}, ${each('pages', a.pages)}, ${each('Slack messages', a.slackPosts)}, ${each('mail threads', a.mailThreads)}; ${a.exactGroups}/${a.groups} exactly one of each, ${a.unmatched} unmatched  (target exactly 1 each: ${verdict(targets.stormOnePerIncident)})`,
          `  besides: ${a.triggers.total} PagerDuty trigger events, ${a.slackUpdates} Slack updates, ${a.slackReplies} thread replies, ${a.mails} mails in all${Object.keys(a.deviations).length > 0 ? `; deviations ${JSON.stringify(a.deviations)}` : ''}`,
          `first critical's 202 -> PagerDuty trigger: p50 ${a.firstPageMs.p50} ms, p99 ${a.firstPageMs.p99} ms, max ${a.firstPageMs.max} ms over ${a.firstPageMs.paged} incidents  (target <= ${TARGETS.firstPageMs} ms for every incident: ${verdict(targets.firstPage)})`,
          `webhook during the storm: p50 ${storm.webhookLatencyMs.p50} ms, p99 ${storm.webhookLatencyMs.p99} ms, max ${storm.webhookLatencyMs.max} ms, ${storm.non2xx} non-2xx  (target p99 <= ${TARGETS.stormWebhookP99Ms} ms: ${verdict(targets.stormLatency)})`,
          `  the webhook's process was runnable but waiting for a core ${storm.webhookWaitedForCore} s/s of the storm`,
          `queues idle ${ms(storm.settledMs, timeout)} after the last webhook; CPU cores: ${cores(storm.cpuCores)}; peak RSS MB: ${megabytes(storm.peakRss.byProcess)}`,
          `Redis per webhook: ${redisLine(storm.redis)}`,
        ];
      })()
    : ['Storm: not run'];
  const out = [
    '',
    `Maestro AlertCenter router bench, ${report.date}, commit ${report.commit}${report.srcDirty ? ' (src has uncommitted changes)' : ''}, load average ${report.loadAverage} at start, ${report.loadAverageEnd} at end${report.smoke ? ', SMOKE run (not for judging speed)' : ''}`,
    ...(report.loadAverage >= 1 ? ["  the machine was busy with other work: absolute figures are not the machine's; compare ratios"] : []),
    ...(Object.keys(report.routerEnv).length > 0 ? [`EXPERIMENT, router settings changed: ${JSON.stringify(report.routerEnv)}`] : []),
    `Ingest: ${report.connections} connections, ${report.ingestAmount === null ? `${report.ingestSeconds} s` : `${report.ingestAmount} requests`} after a warm-up, ${ALERTS_PER_WEBHOOK} alerts a request going round ${report.groups} incident keys; the router's workers process the backlog meanwhile`,
    ...rows.map((row) => row.map(align).join('  ').trimEnd()),
    ...ingestLines,
    '',
    ...stormLines,
    '',
    `router peak RSS (VmHWM), largest process of any phase: ${report.peakRssMb ?? '-'} MB${alertmanager ? `; Alertmanager ${alertmanager.peakRssMb} MB` : ''}  (target < ${TARGETS.peakRssMb} MB: ${verdict(targets.memory)})`,
    '',
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}
