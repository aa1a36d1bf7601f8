import type { SloDefinition } from '../alerts/slo-catalog.js';
import { errorBudget } from '../alerts/slo-rules.js';
import type { PrometheusClient, Samples } from '../prometheus/client.js';
import { QUERIES } from '../prometheus/queries.js';
import { AT_RISK_REMAINING, type BurnEpisode, type SloFigures, TREND_DEAD_BAND, type Trend, type Verdict } from './model.js';
import { type IsoWeek, weeksBefore } from './week.js';

const HOUR_MS = 3_600_000;

/** One hour of an SLO: the hour ending at `t`, its events and its bad events. */
export interface Hour {
  t: number;
  events: number;
  bad: number;
  /** Error ratio / error budget: 1 spends the budget exactly over the period. */
  burn: number;
}

/** What Prometheus answered for one SLO and one week. */
export interface SloSeries {
  hours: Hour[];
  /** 1 - SLI over the week, over the period; budget left at the week's end (null: no series). */
  weekErrorRatio: number | null;
  periodErrorRatio: number | null;
  budgetRemaining: number | null;
}

/**
 * The queries of one SLO's figures for the week: the hourly error ratio and events from the start of the
 * previous week's SLO period to the week's end (the burn-down, both weeks' consumption, the episodes),
 * and three instant queries at the week's end.
 */
export async function querySloSeries(prometheus: PrometheusClient, slo: SloDefinition, week: IsoWeek): Promise<SloSeries> {
  const previous = weeksBefore(week, 1);
  // The first hourly sample covers the hour after this.
  const from = previous.end - slo.periodSeconds * 1000 + HOUR_MS;
  const seconds = Math.round((week.end - week.start) / 1000);
  const [ratios, events, weekErrorRatio, periodErrorRatio, budgetRemaining] = await Promise.all([
    prometheus.range(QUERIES.hourlyErrorRatio(slo), from, week.end, 3600),
    prometheus.range(QUERIES.hourlyEvents(slo), from, week.end, 3600),
    prometheus.instant(QUERIES.windowErrorRatio(slo, seconds), week.end),
    prometheus.instant(QUERIES.periodErrorRatio(slo), week.end),
    prometheus.instant(QUERIES.budgetRemaining(slo), week.end),
  ]);
  return {
    hours: joinHours(ratios, events, errorBudget(slo)),
    weekErrorRatio: finite(weekErrorRatio),
    periodErrorRatio: finite(periodErrorRatio),
    budgetRemaining: finite(budgetRemaining),
  };
}

const finite = (value: number | null) => (value === null || !Number.isFinite(value) ? null : value);

/** Hours with both figures; an hour without events (0/0 = NaN ratio) counts no bad event. */
function joinHours(ratios: Samples, events: Samples, budget: number): Hour[] {
  const ratioAt = new Map(ratios);
  return events.flatMap(([t, count]) => {
    const ratio = ratioAt.get(t);
    if (ratio === undefined || !Number.isFinite(count)) return [];
    const clean = Number.isFinite(ratio) ? Math.max(0, ratio) : 0;
    return [{ t, events: count, bad: clean * count, burn: clean / budget }];
  });
}

/**
 * The week's figures from the series. Budget consumed is counted in events, as the SLO counts it:
 * bad events in the span / (error budget x all events of the SLO period ending at the week's end).
 * Where the rules' records are missing (rules deployed recently and not backfilled), the SLI and
 * budget left over the period come from the same hourly figures.
 */
export function computeSloFigures(slo: SloDefinition, week: IsoWeek, series: SloSeries): SloFigures {
  const budget = errorBudget(slo);
  const periodMs = slo.periodSeconds * 1000;
  const previous = weeksBefore(week, 1);
  const within = (from: number, to: number) => series.hours.filter((hour) => hour.t > from && hour.t <= to);
  const sum = (hours: Hour[], key: 'events' | 'bad') => hours.reduce((total, hour) => total + hour[key], 0);

  const period = within(week.end - periodMs, week.end);
  const periodEvents = sum(period, 'events');
  const previousPeriodEvents = sum(within(previous.end - periodMs, previous.end), 'events');
  const share = (hours: Hour[], events: number) => (events > 0 ? sum(hours, 'bad') / (budget * events) : null);

  const consumedThisWeek = share(within(week.start, week.end), periodEvents);
  const consumedPreviousWeek = share(within(previous.start, previous.end), previousPeriodEvents);
  const hourlyRemaining = periodEvents > 0 ? 1 - sum(period, 'bad') / (budget * periodEvents) : null;
  const budgetRemaining = series.budgetRemaining ?? hourlyRemaining;
  const periodErrorRatio = series.periodErrorRatio ?? (periodEvents > 0 ? sum(period, 'bad') / periodEvents : null);

  let cumulative = 0;
  const points: Array<[number, number]> = [];
  if (periodEvents > 0) {
    points.push([period[0]!.t - HOUR_MS, 1]);
    for (const hour of period) {
      cumulative += hour.bad;
      points.push([hour.t, 1 - cumulative / (budget * periodEvents)]);
    }
  }

  return {
    sliWeek: series.weekErrorRatio === null ? null : 1 - series.weekErrorRatio,
    sliPeriod: periodErrorRatio === null ? null : 1 - periodErrorRatio,
    compliant: budgetRemaining === null ? null : budgetRemaining >= 0,
    budgetRemaining,
    consumedThisWeek,
    consumedPreviousWeek,
    trend: trendOf(consumedThisWeek, consumedPreviousWeek),
    burnDown: points.length === 0 ? null : { periodStart: new Date(week.end - periodMs).toISOString(), periodEnd: new Date(week.end).toISOString(), points },
    episodes: burnEpisodes(within(week.start, week.end), budget * periodEvents),
  };
}

function trendOf(now: number | null, before: number | null): Trend | null {
  if (now === null || before === null) return null;
  if (now - before > TREND_DEAD_BAND) return 'burning_faster';
  if (before - now > TREND_DEAD_BAND) return 'burning_slower';
  return 'steady';
}

/** Runs of consecutive hours burning faster than 1x, the three that consumed most, largest first. */
export function burnEpisodes(hours: Hour[], budgetEvents: number, count = 3): BurnEpisode[] {
  if (budgetEvents <= 0) return [];
  const episodes: BurnEpisode[] = [];
  let run: Hour[] = [];
  const close = () => {
    if (run.length === 0) return;
    const start = run[0]!.t - HOUR_MS;
    const end = run.at(-1)!.t;
    episodes.push({
      start: new Date(start).toISOString(),
      end: new Date(end).toISOString(),
      durationSeconds: (end - start) / 1000,
      budgetConsumed: run.reduce((total, hour) => total + hour.bad, 0) / budgetEvents,
      peakBurnRate: Math.max(...run.map((hour) => hour.burn)),
    });
    run = [];
  };
  for (const hour of hours) {
    const contiguous = run.length === 0 || hour.t - run.at(-1)!.t === HOUR_MS;
    if (hour.burn > 1 && contiguous) run.push(hour);
    else {
      close();
      if (hour.burn > 1) run.push(hour);
    }
  }
  close();
  return episodes.sort((a, b) => b.budgetConsumed - a.budgetConsumed).slice(0, count);
}

/** The error budget policy: exhausted, at risk under 25% left, otherwise healthy. */
export function verdictOf(budgetRemaining: number | null): Verdict {
  if (budgetRemaining === null) return 'unknown';
  if (budgetRemaining <= 0) return 'reliability_work_first';
  if (budgetRemaining < AT_RISK_REMAINING) return 'at_risk';
  return 'healthy';
}

/** Figures when Prometheus could not be asked. */
export const NO_FIGURES: SloFigures = {
  sliWeek: null,
  sliPeriod: null,
  compliant: null,
  budgetRemaining: null,
  consumedThisWeek: null,
  consumedPreviousWeek: null,
  trend: null,
  burnDown: null,
  episodes: [],
};
