/**
 * Every PromQL expression the weekly SLO report sends to Prometheus, each saying what it computes.
 * They read the recording rules that src/alerts/slo-rules.ts generates from the SLO catalog
 * (deploy/prometheus/maestro-slo-rules.yaml), and the catalog's own SLI expressions where no rule
 * records the window the report needs (the week).
 */
import type { SloDefinition } from '../alerts/slo-catalog.js';

/** The SLO's series: the rules label every record with `slo` (and `service`). SLO names are [a-z0-9-]. */
const of = (slo: SloDefinition) => `{slo="${slo.name}"}`;

/** The catalog's SLI expression with its [WINDOW] set. */
const sli = (expression: string, window: string) => expression.replaceAll('[WINDOW]', `[${window}]`);

export const QUERIES = {
  /**
   * Error ratio over the hour before each sample (bad events / all events, 0..1), as the rules record it
   * for the burn alerts' 1h window. Sampled every hour it partitions time into hours: the burn-down chart
   * and the burn episodes are built from it.
   */
  hourlyErrorRatio: (slo: SloDefinition) => `slo:sli_error:ratio_rate1h${of(slo)}`,

  /**
   * Events (good and bad) in the hour before each sample: the catalog's `total` rate over 1h x 3600 s.
   * Weights each hour's error ratio, so that the hours add up to what the SLO counts (events, not hours).
   */
  hourlyEvents: (slo: SloDefinition) => `(${sli(slo.sli.total, '1h')}) * 3600`,

  /**
   * Error ratio over the whole SLO period (30d, 7d) before the sample, recorded by the rules' budget group:
   * 1 - this is the SLI over the period.
   */
  periodErrorRatio: (slo: SloDefinition) => `slo:sli_error:ratio_rate${slo.period}${of(slo)}`,

  /**
   * Fraction of the period's error budget left at the sample (1 untouched, 0 spent, below 0 overspent),
   * recorded by the rules: the figure the MaestroSLOErrorBudgetExhausted/Low alerts fire on.
   */
  budgetRemaining: (slo: SloDefinition) => `slo:error_budget_remaining:ratio${of(slo)}`,

  /**
   * Error ratio over the `seconds` before the sample, from the catalog's good and total expressions:
   * no rule records a week. Evaluated at the week's end with the week's length, 1 - this is the week's SLI
   * (event-weighted; a week across a daylight-saving change lasts 167 or 169 h).
   */
  windowErrorRatio: (slo: SloDefinition, seconds: number) => `1 - (${sli(slo.sli.good, `${seconds}s`)}) / (${sli(slo.sli.total, `${seconds}s`)})`,
} as const;
