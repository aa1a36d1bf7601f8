import { parseDuration } from '../config/duration.js';
import type { WebhookAlert, WebhookPayload } from './schema.js';
import type { SloCatalog, SloDefinition } from './slo-catalog.js';
import type { NormalizedAlert, Severity } from './types.js';

/**
 * Alert -> NormalizedAlert, pure. Reads the label conventions in use today:
 * - Maestro: slo, service, long_window, short_window, burn_rate_threshold, slo_objective, slo_period;
 * - Sloth: sloth_slo, sloth_service, sloth_id, sloth_severity (page|ticket), sloth_window (the short
 *   window of the branch that fired; Sloth puts no long window, threshold or objective on alerts);
 * - Pyrra: slo, long, short, exhaustion (time to exhaust a full budget at the alert's threshold);
 * - the shipped rules' figures (annotations): burn_rate_short, burn_rate_long, error_budget_remaining;
 *   without them the figures are the threshold's, over a full budget (figuresSource 'threshold').
 * The alert's own labels and annotations win; the SLO catalog fills what they leave out.
 * Malformed numbers and durations become null, never an exception.
 */

export interface NormalizeOptions {
  catalog: SloCatalog;
  defaultSeverity: Severity;
  /** Called when the severity is missing or unknown (a metric hook): the raw value, or null when none. */
  onUnknownSeverity?: (raw: string | null) => void;
}

export interface AlertContext {
  groupKey: string;
  externalUrl: string;
}

/**
 * Lower-cased severity spellings. A Map, so a label value such as "constructor" finds nothing.
 * `error` pages because PagerDuty gives error the same high urgency as critical; kube-prometheus
 * marks its never-paging alerts (Watchdog, InfoInhibitor) `none`.
 */
const SEVERITY_ALIASES = new Map<string, Severity>([
  ['critical', 'critical'],
  ['crit', 'critical'],
  ['page', 'critical'],
  ['error', 'critical'],
  ['warning', 'warning'],
  ['warn', 'warning'],
  ['ticket', 'warning'],
  ['info', 'info'],
  ['informational', 'info'],
  ['none', 'info'],
]);

/** `severity` first; Sloth users often put a team-specific value there and the real one in `sloth_severity`. */
const SEVERITY_LABELS = ['severity', 'sloth_severity'] as const;

const SUMMARY_ANNOTATIONS = ['summary', 'title'];
const DESCRIPTION_ANNOTATIONS = ['description', 'message'];
const RUNBOOK_ANNOTATIONS = ['runbook_url', 'runbookURL', 'runbookUrl', 'runbook'];
const DASHBOARD_ANNOTATIONS = ['dashboard_url', 'dashboardURL', 'dashboardUrl', 'grafana_url', 'pyrra_url'];

/** Go's zero time, which Alertmanager sends as endsAt while an alert fires. */
const ZERO_TIME_PREFIX = '0001-01-01T';

export function normalizeAlert(alert: WebhookAlert, context: AlertContext, options: NormalizeOptions): NormalizedAlert {
  const { labels } = alert;
  const annotations = alert.annotations ?? {};
  const sloLabel = pick(labels, ['slo', 'sloth_slo']);
  const definition = lookup(options.catalog, sloLabel) ?? lookup(options.catalog, pick(labels, ['sloth_id']));
  return {
    fingerprint: alert.fingerprint,
    status: alert.status,
    startsAt: alert.startsAt,
    endsAt: alert.endsAt === undefined || alert.endsAt.startsWith(ZERO_TIME_PREFIX) ? null : alert.endsAt,
    groupKey: context.groupKey,
    externalUrl: context.externalUrl,
    alertname: labels.alertname ?? '',
    ...severityOf(labels, options),
    slo: sloLabel ?? definition?.name ?? null,
    service: pick(labels, ['service', 'sloth_service']) ?? definition?.service ?? null,
    ...burnRateFigures(labels, annotations, definition),
    sloDescription: definition?.description ?? null,
    summary: pick(annotations, SUMMARY_ANNOTATIONS),
    description: pick(annotations, DESCRIPTION_ANNOTATIONS),
    runbookUrl: pickUrl(annotations, RUNBOOK_ANNOTATIONS) ?? definition?.runbook_url ?? null,
    dashboardUrl:
      pickUrl(annotations, DASHBOARD_ANNOTATIONS) ??
      // Grafana's own links: the panel is the more precise one.
      pickUrl(alert, ['panelURL', 'dashboardURL']) ??
      definition?.dashboard_url ??
      null,
    generatorUrl: pickUrl(alert, ['generatorURL']),
    labels,
    annotations,
  };
}

/** Each alert carries its own status; the payload's top-level status only summarizes the group. */
export function normalizePayload(payload: WebhookPayload, options: NormalizeOptions): NormalizedAlert[] {
  const context = { groupKey: payload.groupKey, externalUrl: payload.externalURL };
  return payload.alerts.map((alert) => normalizeAlert(alert, context, options));
}

/** What routes match on: the alert's labels with the mapped severity, and slo and service when known. */
export function routingLabels(alert: NormalizedAlert): Record<string, string> {
  const labels: Record<string, string> = Object.assign(Object.create(null), alert.labels);
  labels.severity = alert.severity;
  if (alert.slo !== null) labels.slo = alert.slo;
  if (alert.service !== null) labels.service = alert.service;
  return labels;
}

function severityOf(labels: Record<string, string>, options: NormalizeOptions): Pick<NormalizedAlert, 'severity' | 'severitySource'> {
  for (const name of SEVERITY_LABELS) {
    const raw = pick(labels, [name]);
    const severity = raw === null ? undefined : SEVERITY_ALIASES.get(raw.trim().toLowerCase());
    if (severity) return { severity, severitySource: raw };
  }
  const raw = pick(labels, SEVERITY_LABELS);
  options.onUnknownSeverity?.(raw);
  return { severity: options.defaultSeverity, severitySource: raw };
}

type BurnRateFigures = Pick<
  NormalizedAlert,
  | 'objective'
  | 'period'
  | 'periodSeconds'
  | 'longWindow'
  | 'shortWindow'
  | 'burnRateThreshold'
  | 'burnRate'
  | 'burnRateShort'
  | 'burnRateLong'
  | 'budgetRemaining'
  | 'figuresSource'
  | 'budgetConsumed'
  | 'timeToExhaustionSeconds'
>;

/**
 * The figures the shipped rules read when the alert is evaluated (src/alerts/slo-rules.ts): burn now
 * over the tier's short window, burn over its long window, fraction of the period's budget left.
 */
const BURN_RATE_SHORT_ANNOTATION = 'burn_rate_short';
const BURN_RATE_LONG_ANNOTATION = 'burn_rate_long';
const BUDGET_REMAINING_ANNOTATION = 'error_budget_remaining';

function burnRateFigures(labels: Record<string, string>, annotations: Record<string, string>, definition: SloDefinition | undefined): BurnRateFigures {
  const period = duration(pick(labels, ['slo_period'])) ?? definition?.period ?? null;
  const periodSeconds = seconds(period);
  const longWindow = duration(pick(labels, ['long_window', 'long']));
  const longWindowSeconds = seconds(longWindow);
  const exhaustionSeconds = seconds(duration(pick(labels, ['exhaustion'])));
  const burnRateThreshold = positive(decimal(pick(labels, ['burn_rate_threshold']))) ?? thresholdFromExhaustion(periodSeconds, exhaustionSeconds);
  const observedBurnRate = nonNegative(decimal(pick(annotations, ['burn_rate'])));
  const burnRate = observedBurnRate ?? burnRateThreshold;
  // A template prints NaN, +Inf or nothing when the query has no usable answer: decimal() takes none of them.
  const burnRateShort = nonNegative(decimal(pick(annotations, [BURN_RATE_SHORT_ANNOTATION])));
  const burnRateLong = nonNegative(decimal(pick(annotations, [BURN_RATE_LONG_ANNOTATION])));
  const budgetRemaining = decimal(pick(annotations, [BUDGET_REMAINING_ANNOTATION]));
  const burnNow = burnRateShort ?? burnRateLong ?? burnRate;
  return {
    objective: objectivePercent(pick(labels, ['slo_objective'])) ?? definition?.objective ?? null,
    period,
    periodSeconds,
    longWindow,
    shortWindow: duration(pick(labels, ['short_window', 'short', 'sloth_window'])),
    burnRateThreshold,
    burnRate,
    burnRateShort,
    burnRateLong,
    budgetRemaining,
    figuresSource: burnRateShort === null && burnRateLong === null && budgetRemaining === null ? 'threshold' : 'observed',
    budgetConsumed: burnRate === null || longWindowSeconds === null ? null : quotient(burnRate * longWindowSeconds, periodSeconds),
    timeToExhaustionSeconds:
      budgetRemaining === null
        ? // Of a full budget. Pyrra's exhaustion label is period / threshold: it stands in while the burn now is the threshold.
          (quotient(periodSeconds, burnNow) ?? (burnNow === burnRateThreshold ? exhaustionSeconds : null))
        : timeToSpend(budgetRemaining, periodSeconds, burnNow),
  };
}

/** remaining x period / burn: what is left of the budget, at the burn now; 0 once it is spent. */
function timeToSpend(remaining: number, periodSeconds: number | null, burnNow: number | null): number | null {
  if (remaining <= 0) return 0;
  if (periodSeconds === null || burnNow === null || burnNow === 0) return null;
  return (remaining * periodSeconds) / burnNow;
}

/**
 * Pyrra's exhaustion label is period / threshold, so the period gives the threshold back. Pyrra
 * prints the label to the millisecond (30d / 14 = "2d3h25m42s857ms"): six digits undo that.
 */
function thresholdFromExhaustion(periodSeconds: number | null, exhaustionSeconds: number | null): number | null {
  const threshold = quotient(periodSeconds, exhaustionSeconds);
  return threshold === null ? null : Number(threshold.toPrecision(6));
}

function lookup(catalog: SloCatalog, name: string | null): SloDefinition | undefined {
  return name === null ? undefined : catalog.byName.get(name);
}

/** The first non-empty string among `names`: senders disagree on spelling, and Grafana sends "" for none. */
function pick(record: object, names: readonly string[]): string | null {
  for (const name of names) {
    const value: unknown = (record as Record<string, unknown>)[name];
    if (typeof value === 'string' && value !== '') return value;
  }
  return null;
}

/** Only http(s) links reach a message: a `javascript:` runbook must not become a clickable link. */
function pickUrl(record: object, names: readonly string[]): string | null {
  for (const name of names) {
    const value = pick(record, [name]);
    if (value !== null && /^https?:\/\//i.test(value)) return value;
  }
  return null;
}

/** The duration text when it is a valid, non-zero Prometheus duration. */
function duration(text: string | null): string | null {
  return text !== null && (parseDuration(text) ?? 0) > 0 ? text : null;
}

function seconds(durationText: string | null): number | null {
  return durationText === null ? null : parseDuration(durationText)! / 1000;
}

/** Plain decimals only: Number() would also take "", "0x10" and "Infinity". */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function decimal(text: string | null): number | null {
  if (text === null) return null;
  const trimmed = text.trim();
  if (!DECIMAL.test(trimmed)) return null;
  const value = Number(trimmed);
  // "1e400" is a plain decimal too, and Infinity.
  return Number.isFinite(value) ? value : null;
}

function positive(value: number | null): number | null {
  return value !== null && value > 0 ? value : null;
}

function nonNegative(value: number | null): number | null {
  return value !== null && value >= 0 ? value : null;
}

function quotient(dividend: number | null, divisor: number | null): number | null {
  return dividend === null || divisor === null || divisor === 0 ? null : dividend / divisor;
}

/** "99.5", "99.5%" and "0.995" all mean 99.5 percent; a ratio is at most 1 (a 1% objective is no SLO). */
function objectivePercent(text: string | null): number | null {
  const isPercent = text?.endsWith('%') ?? false;
  const value = decimal(isPercent ? text!.slice(0, -1) : text);
  if (value === null) return null;
  // toPrecision: 0.995 * 100 is 99.49999999999999 in binary floating point.
  const percent = isPercent || value > 1 ? value : Number((value * 100).toPrecision(12));
  return percent > 0 && percent < 100 ? percent : null;
}
