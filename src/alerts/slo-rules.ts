/** Prometheus rules for the SLO catalog: recording rules, multiwindow multi-burn-rate alerts, absent-SLI alerts. */
import { stringify } from 'yaml';
import { parseDuration } from '../config/duration.js';
import type { BurnRateTier, SloCatalog, SloDefinition } from './slo-catalog.js';

/** Repository-relative paths of the catalog and of the rules generated from it. */
export const SLO_CATALOG_FILE = 'routing/slos.yaml';
export const SLO_RULES_FILE = 'deploy/prometheus/maestro-slo-rules.yaml';

export const BURN_ALERT = 'MaestroSLOErrorBudgetBurn';
export const SLI_ABSENT_ALERT = 'MaestroSLOSLIAbsent';
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
      burn_rate: '{{ printf "%.2f" $value }}',
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
      summary: `${slo.name} SLO has no data: ${slo.sli.required_series} is absent`,
      description:
        `No series matches ${slo.sli.required_series}, so the ${slo.name} SLI cannot be computed ` +
        `and its burn-rate alerts cannot fire. Check the scrape target and the exported metric.`,
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
      rules: [
        ...tierWindows(tiers).map((window) => errorRatioRule(slo, window)),
        ...tiers.map((tier) => burnAlert(slo, tier)),
        sliAbsentAlert(slo),
      ],
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
