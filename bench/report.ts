import { ALERTS_PER_WEBHOOK } from './payloads.js';
import { round } from './stats.js';
import type { DeliveryAccount } from './e2e.js';
import type { LoadResult } from './load.js';

export interface IngestFigures {
  requestsPerSecond: number;
  alertsPerSecond: number;
  latencyMs: LoadResult['latencyMs'];
  non2xx: number;
  /** Connection errors and timeouts. */
  errors: number;
  /** Cores each process used during the phase (warm-up included; the load generator: measured part only). */
  cpuCores: Record<string, number>;
  /**
   * Seconds per second the server's main thread (the ceiling's, or the router's webhook process's)
   * was runnable but waiting for a core: CPU it wanted and did not get.
   */
  serverWaitedForCore: number;
}

/** Peak RSS (VmHWM) of the router's processes during a phase, in MB. */
export interface PeakRss {
  /** Each process is its own container: this is what its memory limit must hold. */
  largestMb: number;
  togetherMb: number;
  byProcess: Record<string, number>;
}

export interface BenchReport {
  date: string;
  /** 1-minute load average when the run started: anything else running skews all but the ratio. */
  loadAverage: number;
  commit: string;
  /** True when src/ had uncommitted changes: the figures are not exactly those of `commit`. */
  srcDirty: boolean;
  smoke: boolean;
  /** Router settings changed for an experiment (BENCH_ROUTER_ENV); empty for a real result. */
  routerEnv: Record<string, string>;
  connections: number;
  ingestSeconds: number;
  ceiling: IngestFigures;
  /** The router as one process of ROLE=all (--single-process), instead of an api and a worker process. */
  singleProcess: boolean;
  /** Worker processes beside the api process, and their nice value. */
  workers: number;
  workerNice: number;
  /** Diagnostic: the webhook's process (ROLE=api) with no worker running. */
  apiAlone: IngestFigures;
  ingest: IngestFigures & { peakRss: PeakRss };
  ingestToCeiling: number;
  e2e: DeliveryAccount & {
    alertsPerSecond: number;
    seconds: number;
    webhooks: number;
    non2xx: number;
    deliveredRatio: number;
    /** The uncounted warm-up, on routers fresh from start-up. */
    coldStart: { seconds: number; delivered: number; expected: number; latencyMs: DeliveryAccount['latencyMs']; latencyMsByChannel: DeliveryAccount['latencyMsByChannel'] };
    peakRss: PeakRss;
    cpuCores: Record<string, number>;
  };
  /** The largest peak of any of the router's processes, in either phase. */
  peakRssMb: number;
  targets: Record<'ingestToCeiling' | 'ingestLatency' | 'e2e' | 'memory', boolean>;
}

/** Issue 6's targets for this 2-core machine. */
export const TARGETS = {
  ingestToCeiling: 0.25,
  ingestP99Ms: 50,
  ingestP999Ms: 200,
  e2eP99Ms: 1000,
  peakRssMb: 250,
};

export function targetsOf(report: BenchReport): BenchReport['targets'] {
  const { ingest, e2e } = report;
  return {
    ingestToCeiling: report.ingestToCeiling >= TARGETS.ingestToCeiling,
    ingestLatency:
      ingest.latencyMs.p99 <= TARGETS.ingestP99Ms && ingest.latencyMs.p99_9 <= TARGETS.ingestP999Ms && ingest.non2xx === 0 && ingest.errors === 0,
    e2e: e2e.latencyMs.p99 <= TARGETS.e2eP99Ms && e2e.deliveredRatio === 1 && e2e.duplicates === 0 && e2e.unexpected === 0 && e2e.non2xx === 0,
    memory: report.peakRssMb < TARGETS.peakRssMb,
  };
}

const verdict = (met: boolean) => (met ? 'met' : 'MISSED');

const megabytes = (byProcess: Record<string, number>) => Object.entries(byProcess).map(([name, mb]) => `${name} ${mb}`).join(', ');

const cores = (cpu: Record<string, number>) => Object.entries(cpu).map(([name, used]) => `${name} ${used}`).join(', ');
const byChannel = (latency: DeliveryAccount['latencyMsByChannel']) =>
  Object.entries(latency).map(([channel, l]) => `${channel} ${l.p50} / ${l.p99} / ${l.max}`).join(', ');

export function printTable(report: BenchReport): void {
  const { ceiling, apiAlone, ingest, e2e, targets } = report;
  const load = (name: string, f: IngestFigures) => [
    name,
    String(f.requestsPerSecond),
    String(f.alertsPerSecond),
    `${f.latencyMs.p50} / ${f.latencyMs.p99} / ${f.latencyMs.p99_9}`,
    String(f.non2xx + f.errors),
    cores(f.cpuCores),
  ];
  const rows = [
    ['', 'webhooks/s', 'alerts/s', 'p50 / p99 / p99.9 ms', 'non-2xx+err', 'CPU cores used'],
    load('ceiling (bare node:http)', ceiling),
    load('webhook process alone (diagnostic)', apiAlone),
    load('router ingest', ingest),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const align = (cell: string, column: number) => (column === 0 || column === 5 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!));
  const out = [
    '',
    `Maestro AlertCenter router bench, ${report.date}, commit ${report.commit}${report.srcDirty ? ' (src has uncommitted changes)' : ''}, load average ${report.loadAverage} at start${report.smoke ? ', SMOKE run (not for judging speed)' : ''}`,
    ...(Object.keys(report.routerEnv).length > 0 ? [`EXPERIMENT, router settings changed: ${JSON.stringify(report.routerEnv)}`] : []),
    `Router: ${report.singleProcess ? 'one process (ROLE=all)' : `an api process (ROLE=api) and ${report.workers} worker process(es) (ROLE=worker) at nice ${report.workerNice}`}`,
    `Ingest: ${report.connections} connections, ${report.ingestSeconds} s, webhooks of ${ALERTS_PER_WEBHOOK} burn-rate alerts with distinct fingerprints`,
    ...rows.map((row) => row.map(align).join('  ').trimEnd()),
    `router / ceiling: ${report.ingestToCeiling}, webhook process alone / ceiling: ${round(apiAlone.requestsPerSecond / ceiling.requestsPerSecond, 3)}  (target >= ${TARGETS.ingestToCeiling}: ${verdict(targets.ingestToCeiling)})`,
    `webhook server runnable but waiting for a core, s/s: ceiling ${ceiling.serverWaitedForCore}, webhook process alone ${apiAlone.serverWaitedForCore}, router ingest ${ingest.serverWaitedForCore}${report.singleProcess ? ' (the ROLE=all process: its workers wait too)' : ''}`,
    `ingest latency: p99 ${ingest.latencyMs.p99} ms, p99.9 ${ingest.latencyMs.p99_9} ms, ${ingest.non2xx} non-2xx  (target <= ${TARGETS.ingestP99Ms} / ${TARGETS.ingestP999Ms} ms, none: ${verdict(targets.ingestLatency)})`,
    '',
    `End to end: ${e2e.alertsPerSecond} alerts/s for ${e2e.seconds} s after the warm-up (${e2e.webhooks} webhooks, warning and critical alternating, ${e2e.non2xx} non-2xx)`,
    `delivered ${e2e.delivered} / ${e2e.expected} = ${e2e.deliveredRatio}, duplicates ${e2e.duplicates}, unexpected ${e2e.unexpected}`,
    `202 -> peer receipt: p50 ${e2e.latencyMs.p50} ms, p99 ${e2e.latencyMs.p99} ms, max ${e2e.latencyMs.max} ms  (target p99 <= ${TARGETS.e2eP99Ms} ms, nothing lost or doubled: ${verdict(targets.e2e)})`,
    `by channel (p50 / p99 / max ms): ${byChannel(e2e.latencyMsByChannel)}`,
    `CPU cores used: ${cores(e2e.cpuCores)}`,
    `cold start (the ${e2e.coldStart.seconds} s warm-up before, not counted): delivered ${e2e.coldStart.delivered} / ${e2e.coldStart.expected}, p50 ${e2e.coldStart.latencyMs.p50} ms, p99 ${e2e.coldStart.latencyMs.p99} ms; by channel ${byChannel(e2e.coldStart.latencyMsByChannel)}`,
    '',
    `router peak RSS (VmHWM) per process: ingest ${megabytes(ingest.peakRss.byProcess)}; end to end ${megabytes(e2e.peakRss.byProcess)}; largest ${report.peakRssMb} MB  (target < ${TARGETS.peakRssMb} MB: ${verdict(targets.memory)})`,
    `  the processes together: ingest ${ingest.peakRss.togetherMb} MB, end to end ${e2e.peakRss.togetherMb} MB`,
    '',
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}
