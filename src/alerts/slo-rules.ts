/**
 * Prometheus rules for the SLO catalog: recording rules, multiwindow multi-burn-rate alerts, absent-SLI
 * alerts, and the error budget policy's alerts (budget exhausted, budget low).
 */
import { stringify } from 'yaml';
import { parseDuration } from '../config/duration.js';
import type { BurnRateTier, SloCatalog, SloDefinition } from './slo-catalog.js';

/** Repository-relative paths of the catalog and of the rules generated from it. */
export const SLO_CATALOG_FILE = 'routing/slos.yaml';
export const SLO_RULES_FILE = 'deploy/prometheus/maestro-slo-rules.yaml';

export const BURN_ALERT = 'MaestroSLOErrorBudgetBurn';
export const SLI_ABSENT_ALERT = 'MaestroSLOSLIAbsent';
/** The error budget policy as alerts: the period's budget is spent, or under BUDGET_LOW_REMAINING of it is left. */
export const BUDGET_EXHAUSTED_ALERT = 'MaestroSLOErrorBudgetExhausted';
export const BUDGET_LOW_ALERT = 'MaestroSLOErrorBudgetLow';
/** "At risk" in the error budget policy: under a quarter of the period's budget left. */
export const BUDGET_LOW_REMAINING = 0.25;
/**
 * How long the budget must stay past a policy line before it alerts: five evaluations of the budget
 * group, so one odd evaluation (a scrape gap, a restart) does not mail the review. The figure moves slowly.
 */
const BUDGET_ALERT_FOR = '10m';
/** How long a required series may be missing before it alerts: long enough to ride out a scrape restart. */
const SLI_ABSENT_FOR = '10m';
/** Rate over the full period is costly; the budget figure moves slowly, so it is evaluated less often (under the 5m lookback). */
const BUDGET_GROUP_INTERVAL = '2m';

interface RecordingRule {
  record: string;
  expr: string;
  labels?: Record<string, string>;
}

interface AlertingRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

interface RuleGroup {
  name: string;
  interval?: string;
  rules: Array<RecordingRule | AlertingRule>;
}

/** Floating-point noise off: (100 - 99.9) / 100 is 0.0009999999999999432 otherwise. */
function tidy(value: number): number {
  return Number(value.toPrecision(10));
}

function seconds(duration: string): number {
  return parseDuration(duration)! / 1000;
}

/** Allowed error ratio: 0.005 for a 99.5% objective. */
export function errorBudget(slo: SloDefinition): number {
  return tidy((100 - slo.objective) / 100);
}

/** Burn rate at which `tier.budget_consumed` of the period's budget is spent within the long window. */
export function burnRateThreshold(slo: SloDefinition, tier: BurnRateTier): number {
  return tidy((tier.budget_consumed * slo.periodSeconds) / seconds(tier.long_window));
}

function errorRatioRecord(window: string): string {
  return `slo:sli_error:ratio_rate${window}`;
}

const BUDGET_REMAINING_RECORD = 'slo:error_budget_remaining:ratio';

/**
 * Annotations with figures, as plain decimals for the router (src/alerts/normalize.ts reads them):
 * - burn_rate_short: error ratio over the tier's short window / error budget: the burn now;
 * - burn_rate_long: the same over the long window (the rule's $value, the `and`'s left side);
 * - error_budget_remaining: fraction of the SLO period's error budget left (1 untouched, 0 spent, < 0 overspent).
 * `burn_rate` stays: the long window's burn, as before.
 */
export const FIGURE_ANNOTATIONS = ['burn_rate_short', 'burn_rate_long', 'error_budget_remaining'] as const;

/**
 * A template that runs `query` (an instant query at the alert's evaluation time) and prints the first
 * sample's value with `format`; empty when the query finds nothing, so the router knows the figure is
 * missing. The query is a Go raw string (backquotes): its label matchers need no escaping.
 */
function queried(query: string, format: string): string {
  return `{{ with query \`${query}\` }}{{ . | first | value | printf "${format}" }}{{ end }}`;
}

/** Every rate window the tiers read, shortest first. */
function tierWindows(tiers: BurnRateTier[]): string[] {
  const windows = new Set(tiers.flatMap((tier) => [tier.long_window, tier.short_window]));
  return [...windows].sort((a, b) => seconds(a) - seconds(b));
}

function seriesLabels(slo: SloDefinition): Record<string, string> {
  return { slo: slo.name, service: slo.service };
}

function errorRatioRule(slo: SloDefinition, window: string): RecordingRule {
  const at = (query: string) => query.replaceAll('[WINDOW]', `[${window}]`);
  return {
    record: errorRatioRecord(window),
    expr: `1 - (${at(slo.sli.good)}) / (${at(slo.sli.total)})`,
    labels: seriesLabels(slo),
  };
}

function sloLabels(slo: SloDefinition): Record<string, string> {
  return { ...seriesLabels(slo), slo_objective: String(slo.objective), slo_period: slo.period };
}

function links(slo: SloDefinition): Record<string, string> {
  return {
    ...(slo.runbook_url === undefined ? {} : { runbook_url: slo.runbook_url }),
    ...(slo.dashboard_url === undefined ? {} : { dashboard_url: slo.dashboard_url }),
  };
}

function burnAlert(slo: SloDefinition, tier: BurnRateTier): AlertingRule {
  const threshold = burnRateThreshold(slo, tier);
  const budget = errorBudget(slo);
  const burnOver = (window: string) => `${errorRatioRecord(window)}{slo="${slo.name}"} / ${budget} > ${threshold}`;
  const percentConsumed = `${tidy(tier.budget_consumed * 100)}%`;
  return {
    alert: BURN_ALERT,
    // `and` keeps the left side, so $value is the burn rate over the long window.
    expr: `${burnOver(tier.long_window)}\nand\n${burnOver(tier.short_window)}`,
    labels: {
      ...sloLabels(slo),
      severity: tier.severity,
      long_window: tier.long_window,
      short_window: tier.short_window,
      burn_rate_threshold: String(threshold),
    },
    // $labels holds only the series labels here, so the tier's figures are written in literally.
    annotations: {
      // Kept for compatibility: the long window's burn, as `burn_rate_long`.
      burn_rate: '{{ printf "%.2f" $value }}',
      // The figures on-call needs, read when the alert is evaluated (see FIGURE_ANNOTATIONS).
      burn_rate_short: queried(`${errorRatioRecord(tier.short_window)}{slo="${slo.name}"} / ${budget}`, '%.2f'),
      burn_rate_long: '{{ printf "%.2f" $value }}',
      error_budget_remaining: queried(`${BUDGET_REMAINING_RECORD}{slo="${slo.name}"}`, '%.4f'),
      summary: `${slo.name} is burning its ${slo.period} error budget at {{ printf "%.1f" $value }}x over ${tier.long_window} (threshold ${threshold}x)`,
      description:
        `${slo.description} (objective ${slo.objective}% over ${slo.period}, service ${slo.service}). ` +
        `The error ratio is {{ printf "%.2f" $value }}x the budget rate over the last ${tier.long_window} ` +
        `and above ${threshold}x over the last ${tier.short_window}; ` +
        `${threshold}x sustained for ${tier.long_window} spends ${percentConsumed} of the ${slo.period} error budget.`,
      ...links(slo),
    },
  };
}

function sliAbsentAlert(slo: SloDefinition): AlertingRule {
  return {
    alert: SLI_ABSENT_ALERT,
    expr: `absent(${slo.sli.required_series})`,
    for: SLI_ABSENT_FOR,
    labels: { ...sloLabels(slo), severity: 'warning' },
    annotations: {
      // Messages title it "<slo> SLO: <summary>": the summary does not name the SLO again.
      summary: `SLI has no data (${slo.sli.required_series} is absent)`,
      description:
        `No series matches ${slo.sli.required_series}, so the ${slo.name} SLI cannot be computed ` +
        `and its burn-rate alerts cannot fire. Check the scrape target and the exported metric.`,
      ...links(slo),
    },
  };
}

/** The alert's own figure, for the router: what is left of the period's budget (may be below 0). */
const REMAINING_ANNOTATION = { error_budget_remaining: '{{ printf "%.4f" $value }}' };

function budgetAlertIntro(slo: SloDefinition): string {
  return `${slo.description} (objective ${slo.objective}% over ${slo.period}, service ${slo.service}).`;
}

function budgetExhaustedAlert(slo: SloDefinition): AlertingRule {
  return {
    alert: BUDGET_EXHAUSTED_ALERT,
    expr: `${BUDGET_REMAINING_RECORD}{slo="${slo.name}"} <= 0`,
    for: BUDGET_ALERT_FOR,
    labels: { ...sloLabels(slo), severity: 'warning' },
    annotations: {
      ...REMAINING_ANNOTATION,
      summary: `error budget exhausted: {{ humanizePercentage $value }} of the ${slo.period} budget left`,
      description:
        `${budgetAlertIntro(slo)} The error budget over the last ${slo.period} is spent ` +
        `({{ humanizePercentage $value }} left; below 0% it is overspent). ` +
        `The error budget policy applies: reliability work comes first until the budget recovers.`,
      ...links(slo),
    },
  };
}

function budgetLowAlert(slo: SloDefinition): AlertingRule {
  const line = `${tidy(BUDGET_LOW_REMAINING * 100)}%`;
  return {
    alert: BUDGET_LOW_ALERT,
    // Also fires while the budget is exhausted: under 25% is still true then, and a resolve would read as a recovery.
    expr: `${BUDGET_REMAINING_RECORD}{slo="${slo.name}"} < ${BUDGET_LOW_REMAINING}`,
    for: BUDGET_ALERT_FOR,
    labels: { ...sloLabels(slo), severity: 'warning' },
    annotations: {
      ...REMAINING_ANNOTATION,
      summary: `error budget low: {{ humanizePercentage $value }} of the ${slo.period} budget left (alerts under ${line})`,
      description:
        `${budgetAlertIntro(slo)} Less than ${line} of the error budget over the last ${slo.period} is left ` +
        `({{ humanizePercentage $value }}): the SLO is at risk under the error budget policy. ` +
        `Review it in the weekly SLO review and weigh reliability work against new releases.`,
      ...links(slo),
    },
  };
}

function sloGroups(slo: SloDefinition, tiers: BurnRateTier[]): RuleGroup[] {
  const periodRecord = errorRatioRecord(slo.period);
  return [
    {
      // Recording rules first: rules of one group run in order, so the alerts read this evaluation's ratios.
      name: `maestro-slo-${slo.name}`,
      rules: [...tierWindows(tiers).map((window) => errorRatioRule(slo, window)), ...tiers.map((tier) => burnAlert(slo, tier)), sliAbsentAlert(slo)],
    },
    {
      name: `maestro-slo-${slo.name}-budget`,
      interval: BUDGET_GROUP_INTERVAL,
      rules: [
        errorRatioRule(slo, slo.period),
        // 1 = untouched, 0 = spent, below 0 = overspent.
        {
          record: BUDGET_REMAINING_RECORD,
          expr: `1 - ${periodRecord}{slo="${slo.name}"} / ${errorBudget(slo)}`,
          labels: seriesLabels(slo),
        },
        // After the record they read, so they see this evaluation's figure.
        budgetExhaustedAlert(slo),
        budgetLowAlert(slo),
      ],
    },
  ];
}

/** The rules file as text: same catalog in, same bytes out (keys in insertion order, no line folding). */
export function renderSloRules(catalog: SloCatalog, sourceFile: string): string {
  const header =
    `# GENERATED by \`node --import tsx scripts/generate-slo-rules.ts\` from ${sourceFile}: do not edit.\n` +
    `# ${sourceFile} is the source of truth; edit it and regenerate.\n`;
  const groups = catalog.slos.flatMap((slo) => sloGroups(slo, catalog.burnRateTiers));
  return header + stringify({ groups }, { lineWidth: 0 });
}
