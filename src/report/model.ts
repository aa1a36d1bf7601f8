/**
 * The weekly SLO review as data: what `GET /api/v1/reports/weekly?format=json` and
 * `alertcenter report weekly --format json` return, and what the HTML, Markdown and mail are made of.
 * Fractions are 0..1 (budget figures may go below 0: overspent); times are ISO 8601 strings.
 */
import { BUDGET_LOW_REMAINING } from '../alerts/slo-rules.js';
import type { Severity } from '../alerts/types.js';

/** The error budget policy's word on an SLO at the week's end. */
export type Verdict = 'reliability_work_first' | 'at_risk' | 'healthy' | 'unknown';

export const VERDICT_TEXT: Record<Verdict, string> = {
  reliability_work_first: 'budget exhausted: reliability work first',
  at_risk: 'at risk: under 25% of the budget left',
  healthy: 'healthy',
  unknown: 'unknown: no figures from Prometheus',
};

/** Under this fraction of the period's budget left, the SLO is at risk (as MaestroSLOErrorBudgetLow). */
export const AT_RISK_REMAINING = BUDGET_LOW_REMAINING;

/** A change in budget consumption within this many points of the budget reads as steady. */
export const TREND_DEAD_BAND = 0.01;

export type Trend = 'burning_faster' | 'burning_slower' | 'steady';

/** A stretch of hours that burnt budget faster than the period allows (burn rate above 1). */
export interface BurnEpisode {
  start: string;
  end: string;
  durationSeconds: number;
  /** Fraction of the period's budget these hours consumed. */
  budgetConsumed: number;
  /** Highest hourly burn rate in it. */
  peakBurnRate: number;
}

/** The budget left at each hour of the SLO period that ends at the week's end. */
export interface BurnDown {
  periodStart: string;
  periodEnd: string;
  /** [epoch ms, fraction of the budget left]; starts at 1 on the period's first hour with data. */
  points: Array<[number, number]>;
}

export interface SloFigures {
  /** SLI (good / all) over the week and over the SLO period ending at the week's end. */
  sliWeek: number | null;
  sliPeriod: number | null;
  /** Whether the SLI over the period meets the objective. */
  compliant: boolean | null;
  /** Fraction of the period's error budget left at the week's end (the rules' slo:error_budget_remaining:ratio). */
  budgetRemaining: number | null;
  /** Fractions of the period's budget consumed during the week, and during the week before. */
  consumedThisWeek: number | null;
  consumedPreviousWeek: number | null;
  trend: Trend | null;
  burnDown: BurnDown | null;
  /** The week's three largest burn episodes, largest first. */
  episodes: BurnEpisode[];
}

export interface IncidentSummary {
  id: string;
  title: string;
  alertname: string;
  peakSeverity: Severity;
  state: 'open' | 'resolving' | 'resolved';
  openedAt: string;
  resolvedAt: string | null;
  /** Time firing within the week. */
  firingSeconds: number;
  pages: number;
  flaps: number;
  /** Opened to acknowledged; null when never acknowledged. */
  acknowledgeSeconds: number | null;
}

export interface IncidentFigures {
  count: number;
  /** Incidents by the highest tier they reached. */
  byPeakSeverity: Record<Severity, number>;
  /** Time firing within the week, summed over the week's incidents. */
  firingSeconds: number;
  /** PagerDuty triggers sent (a first page and each escalation). */
  pages: number;
  /**
   * Time to acknowledge over the incidents that were acknowledged (`acknowledged` incidents of n);
   * null when none was: shown as "n/a".
   */
  acknowledge: { acknowledged: number; medianSeconds: number | null; longestSeconds: number | null };
  /** Tiers that cleared and fired again within the resolve hold-down. */
  flaps: number;
  incidents: IncidentSummary[];
}

export interface SloReport {
  name: string;
  service: string;
  description: string;
  /** Percent, e.g. 99.9. */
  objective: number;
  period: string;
  periodSeconds: number;
  dashboardUrl: string | null;
  runbookUrl: string | null;
  figures: SloFigures;
  incidents: IncidentFigures;
  verdict: Verdict;
}

export interface WeeklyReport {
  /** "2026-W49" */
  week: string;
  timeZone: string;
  start: string;
  end: string;
  generatedAt: string;
  prometheus: { available: true; url: string } | { available: false; url: string | null; error: string };
  /**
   * False when part of the week is older than the router keeps incidents (40 days), or the week has
   * not ended: the incident figures may be short.
   */
  incidentsComplete: boolean;
  slos: SloReport[];
  /** SLO names by budget consumed this week, most first: the meeting's list for reliability work. */
  priorities: Array<{ slo: string; consumedThisWeek: number | null; verdict: Verdict }>;
}
