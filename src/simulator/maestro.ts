/**
 * A simulated Maestro: the SLI counters of routing/slos.yaml's three SLOs (API latency histogram,
 * database requests, runs), with a daily traffic cycle, a baseline error ratio, and events that raise
 * the error ratio over a span of time. It writes its history as OpenMetrics for
 * `promtool tsdb create-blocks-from openmetrics`, and serves its current counters as a scrape target.
 *
 * One code for both: the weekly report's tests fill a real Prometheus with it, and `npm run playground`
 * backfills its Prometheus with it and then scrapes it live (see scripts/playground.ts).
 *
 * Counters grow by whole steps: the step starting at t adds traffic(t) x step events, of which
 * errorRatio(t) are bad. A sample at t holds every step before t, so the events of [a, b) are the
 * difference of the samples at b and a: exact figures for whoever checks a report.
 */

export type SimSlo = 'api-latency' | 'database-availability' | 'run-success';
export const SIM_SLOS: readonly SimSlo[] = ['api-latency', 'database-availability', 'run-success'];

/** A span [from, to) (epoch ms) during which a fraction of an SLO's events are bad. */
export interface SimEvent {
  slo: SimSlo;
  from: number;
  to: number;
  errorRatio: number;
  /** For people: "database outage". */
  label?: string;
}

export interface Scenario {
  /** Events per second at the daily mean, per SLO. */
  traffic: Record<SimSlo, number>;
  /** Fraction of events that are bad outside events, per SLO. */
  baseline: Record<SimSlo, number>;
  /** Amplitude of the daily cycle (0: flat; 0.5: from half to one and a half times the mean, peak at 15:00 UTC). */
  dailySwing: number;
  events: SimEvent[];
}

/** A realistic Maestro: tens of API requests a second, a busy database, a run every few seconds. */
export const DEFAULT_SCENARIO: Scenario = {
  traffic: { 'api-latency': 40, 'database-availability': 120, 'run-success': 0.5 },
  // Well within the objectives (0.5%, 0.1%, 1%): about a third of each budget over a period.
  baseline: { 'api-latency': 0.0015, 'database-availability': 0.0003, 'run-success': 0.003 },
  dailySwing: 0.5,
  events: [],
};

const DAY_MS = 86_400_000;

/** Events per second at t (a step's start). */
export function trafficAt(scenario: Scenario, slo: SimSlo, t: number): number {
  const phase = ((t % DAY_MS) / DAY_MS) * 2 * Math.PI;
  // Peak at 15:00 UTC, trough at 03:00.
  return scenario.traffic[slo] * (1 + scenario.dailySwing * Math.sin(phase - (Math.PI * 9) / 12));
}

/** Fraction of bad events at t: the highest of the events covering t, or the baseline. */
export function errorRatioAt(scenario: Scenario, slo: SimSlo, t: number): number {
  let ratio = scenario.baseline[slo];
  for (const event of scenario.events) if (event.slo === slo && event.from <= t && t < event.to) ratio = Math.max(ratio, event.errorRatio);
  return ratio;
}

/** Good and total events of one SLO so far. */
export interface SloCounters {
  good: number;
  total: number;
}

type Counters = Record<SimSlo, SloCounters>;

const zero = (): Counters => ({
  'api-latency': { good: 0, total: 0 },
  'database-availability': { good: 0, total: 0 },
  'run-success': { good: 0, total: 0 },
});

/** The labels the scrape gives the live series: the backfilled ones carry the same, so the series continue. */
export const SIM_TARGET_LABELS = { job: 'maestro-api', instance: 'maestro-simulator' } as const;

/**
 * The exposition of one SLO's counters, per the catalog's SLI expressions:
 * - api-latency: http_request_duration_seconds (a histogram; good = within 200 ms, bucket le="0.2");
 * - database-availability: maestro_db_requests_total{result="success"|"error"};
 * - run-success: maestro_runs_total{result="success"|"failure"}.
 * `extra` adds labels (the backfill's job and instance), `suffix` a timestamp.
 */
function seriesLines(counters: Counters, extra: string, suffix: string): Record<string, string[]> {
  const api = counters['api-latency'];
  const db = counters['database-availability'];
  const runs = counters['run-success'];
  const n = (value: number) => String(Math.round(value * 1000) / 1000);
  const lb = (labels: string) => `{${[labels, extra].filter(Boolean).join(',')}}`;
  return {
    http_request_duration_seconds: [
      `http_request_duration_seconds_bucket${lb('le="0.2"')} ${n(api.good)}${suffix}`,
      `http_request_duration_seconds_bucket${lb('le="+Inf"')} ${n(api.total)}${suffix}`,
      `http_request_duration_seconds_count${lb('')} ${n(api.total)}${suffix}`,
      // About 80 ms per good request and 450 ms per slow one.
      `http_request_duration_seconds_sum${lb('')} ${n(api.good * 0.08 + (api.total - api.good) * 0.45)}${suffix}`,
    ],
    maestro_db_requests: [
      `maestro_db_requests_total${lb('result="success"')} ${n(db.good)}${suffix}`,
      `maestro_db_requests_total${lb('result="error"')} ${n(db.total - db.good)}${suffix}`,
    ],
    maestro_runs: [
      `maestro_runs_total${lb('result="success"')} ${n(runs.good)}${suffix}`,
      `maestro_runs_total${lb('result="failure"')} ${n(runs.total - runs.good)}${suffix}`,
    ],
  };
}

const FAMILY_HEADERS: Record<string, string[]> = {
  http_request_duration_seconds: ['# HELP http_request_duration_seconds Maestro API request latency.', '# TYPE http_request_duration_seconds histogram'],
  maestro_db_requests: ['# HELP maestro_db_requests Maestro database requests by result.', '# TYPE maestro_db_requests counter'],
  maestro_runs: ['# HELP maestro_runs Maestro runs by result.', '# TYPE maestro_runs counter'],
};

/** A burst of events added at once (see `MaestroSimulator.setMode`). */
interface Burst {
  good: number;
  total: number;
}

/** The counters of the three SLOs, advanced step by step from a start time. */
export class MaestroSimulator {
  private counters: Counters = zero();
  private time: number;
  /** Samples kept for `windowRatio`: [t, counters] every step, the last 7 hours. */
  private readonly history: Array<[number, Counters]> = [];

  constructor(
    readonly scenario: Scenario,
    start: number,
    private readonly stepMs = 60_000,
  ) {
    this.time = start;
    this.remember();
  }

  get now(): number {
    return this.time;
  }

  current(slo: SimSlo): SloCounters {
    return { ...this.counters[slo] };
  }

  /** Advances to `to` (epoch ms) in whole steps; `onSample` sees each new sample. */
  advanceTo(to: number, onSample?: (t: number, counters: Readonly<Counters>) => void): void {
    while (this.time + this.stepMs <= to) this.step(this.stepMs, onSample);
  }

  /** One step of `ms` from now (the live exporter steps by the time since its last scrape). */
  step(ms: number, onSample?: (t: number, counters: Readonly<Counters>) => void): void {
    for (const slo of SIM_SLOS) {
      const events = trafficAt(this.scenario, slo, this.time) * (ms / 1000);
      const bad = events * errorRatioAt(this.scenario, slo, this.time);
      this.counters[slo].total += events;
      this.counters[slo].good += events - bad;
    }
    this.time += ms;
    this.remember();
    onSample?.(this.time, this.counters);
  }

  /**
   * The history from now to `to` as OpenMetrics text (timestamps in seconds), one family at a time as
   * the format wants, ending in `# EOF`. Advances the simulator to `to`.
   */
  toOpenMetrics(to: number): string {
    const families: Record<string, string[]> = { http_request_duration_seconds: [], maestro_db_requests: [], maestro_runs: [] };
    const extra = Object.entries(SIM_TARGET_LABELS)
      .map(([name, value]) => `${name}="${value}"`)
      .join(',');
    const emit = (t: number, counters: Readonly<Counters>) => {
      for (const [family, lines] of Object.entries(seriesLines(counters, extra, ` ${t / 1000}`))) for (const line of lines) families[family]!.push(line);
    };
    emit(this.time, this.counters);
    this.advanceTo(to, emit);
    const out: string[] = [];
    for (const [family, lines] of Object.entries(families)) out.push(FAMILY_HEADERS[family]!.join('\n'), lines.join('\n'));
    out.push('# EOF', '');
    return out.join('\n');
  }

  /** The current counters in Prometheus's text format, for a scrape. */
  exposition(): string {
    const out: string[] = [];
    for (const [family, lines] of Object.entries(seriesLines(this.counters, '', ''))) {
      const header = FAMILY_HEADERS[family]!.map((line) =>
        line.replace('maestro_db_requests ', 'maestro_db_requests_total ').replace('maestro_runs ', 'maestro_runs_total '),
      );
      out.push(...header, ...lines);
    }
    return `${out.join('\n')}\n`;
  }

  /** Bad events / events over the `windowMs` before now, from the kept history (null without traffic). */
  windowRatio(slo: SimSlo, windowMs: number): { ratio: number; total: number } | null {
    const since = this.time - windowMs;
    const first = this.history.find(([t]) => t >= since) ?? this.history[0]!;
    const total = this.counters[slo].total - first[1][slo].total;
    if (total <= 0) return null;
    const bad = total - (this.counters[slo].good - first[1][slo].good);
    return { ratio: bad / total, total };
  }

  /** Adds a burst of events at once: `total` events of which `bad` fail. */
  burst(slo: SimSlo, burst: Burst): void {
    this.counters[slo].total += burst.total;
    this.counters[slo].good += burst.good;
    this.remember(true);
  }

  private remember(replaceLast = false): void {
    const copy: Counters = zero();
    for (const slo of SIM_SLOS) copy[slo] = { ...this.counters[slo] };
    if (replaceLast && this.history.length > 0 && this.history.at(-1)![0] === this.time) this.history[this.history.length - 1] = [this.time, copy];
    else this.history.push([this.time, copy]);
    const horizon = this.time - 7 * 3_600_000;
    while (this.history.length > 2 && this.history[0]![0] < horizon) this.history.shift();
  }
}

/** The modes the playground switches an SLO between. */
export type SimMode = 'healthy' | 'warning' | 'critical';

/**
 * Burn rates (error ratio / error budget) per mode. Warning: above the 6x warning tier, below the
 * critical tiers' 12x and 14.4x. Critical: above both critical tiers.
 */
export const MODE_BURN: Record<Exclude<SimMode, 'healthy'>, { target6h: number; ongoing: number }> = {
  warning: { target6h: 8, ongoing: 10 },
  critical: { target6h: 13, ongoing: 20 },
};

/**
 * Puts an SLO in a mode now, so the shipped alerts fire or resolve within an evaluation or two instead
 * of after hours of burn (the warning tier reads 6 hours): a burst of events brings the burn over the
 * long windows to the mode's level, then the SLO keeps burning at the mode's rate.
 * - warning / critical: a burst whose error ratio is the mode's ongoing burn, sized so that the 6 h
 *   window reads `target6h`; every shorter window then reads between that and the ongoing burn;
 * - healthy: a burst of good events that brings the 30 m window (and every shorter one) under 3x, so
 *   every tier has a window under its threshold; the baseline then resumes.
 * The bursts spend error budget as real ones would: switching to critical twice drives the budget low.
 */
export function setMode(sim: MaestroSimulator, slo: SimSlo, mode: SimMode, errorBudget: number): SimEvent {
  const now = sim.now;
  // The event covers the rest of the run; a later mode overrides it (the latest event wins below).
  sim.scenario.events = sim.scenario.events.filter((event) => !(event.slo === slo && event.to > now));
  if (mode === 'healthy') {
    const window = sim.windowRatio(slo, 30 * 60_000);
    if (window !== null) {
      const burn = window.ratio / errorBudget;
      const total = burn > 3 ? window.total * (burn / 3 - 1) * 1.2 : 0;
      if (total > 0) sim.burst(slo, { good: total, total });
    }
    const event = { slo, from: now, to: Number.MAX_SAFE_INTEGER, errorRatio: 0, label: 'healthy' };
    return event;
  }
  const { target6h, ongoing } = MODE_BURN[mode];
  const window = sim.windowRatio(slo, 6 * 3_600_000);
  if (window !== null) {
    const burn6h = window.ratio / errorBudget;
    if (burn6h < target6h) {
      // (bad6h + ongoing x budget x T) / (total6h + T) = target6h x budget
      const total = (window.total * (target6h - burn6h)) / (ongoing - target6h);
      sim.burst(slo, { good: total * (1 - ongoing * errorBudget), total });
    }
  }
  const event: SimEvent = { slo, from: now, to: Number.MAX_SAFE_INTEGER, errorRatio: ongoing * errorBudget, label: mode };
  sim.scenario.events.push(event);
  return event;
}
