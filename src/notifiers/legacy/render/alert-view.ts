import type { AlertStatus, NormalizedAlert, Severity } from '../../../alerts/types.js';
import { formatDuration } from '../../../config/duration.js';

/**
 * The facts every channel shows, computed once from a NormalizedAlert. Values are raw,
 * untrusted text: each channel escapes and cuts them for its own format.
 */
export interface AlertView {
  status: AlertStatus;
  severity: Severity;
  /** `[WARNING] api-latency SLO: 5% of error budget consumed (6.0x burn)`, `[RESOLVED] ...` when resolved. */
  title: string;
  facts: Fact[];
  summary: string | null;
  description: string | null;
  /** http(s) links only: runbook, dashboard, Prometheus expression, Alertmanager silence. */
  links: Link[];
  /** Sorted by name. */
  labels: Array<[name: string, value: string]>;
  /** How long the alert fired, once resolved: "2h 5m". */
  firedFor: string | null;
}

export interface Fact {
  label: string;
  value: string;
}

export interface Link {
  label: string;
  url: string;
}

const COLORS = { critical: '#E01E5A', warning: '#ECB22E', info: '#36C5F0', resolved: '#2EB67D' } as const;

/** Severity colours, green once resolved: Slack's attachment bar, the email heading. */
export function colorOf(view: AlertView): string {
  return COLORS[view.status === 'resolved' ? 'resolved' : view.severity];
}

export function renderAlert(alert: NormalizedAlert): AlertView {
  const firedFor = firedDuration(alert);
  return {
    status: alert.status,
    severity: alert.severity,
    title: `[${alert.status === 'resolved' ? 'RESOLVED' : alert.severity.toUpperCase()}] ${headline(alert)}`,
    facts: facts(alert, firedFor),
    summary: alert.summary,
    description: alert.description,
    links: links(alert),
    labels: Object.entries(alert.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    firedFor,
  };
}

/** 6 -> "6.0x" */
export function formatBurnRate(burnRate: number): string {
  return `${burnRate.toFixed(1)}x`;
}

/** 0.05 -> "5%", 0.0213 -> "2.1%" */
export function formatFraction(fraction: number): string {
  return `${Number((fraction * 100).toFixed(1))}%`;
}

function headline(alert: NormalizedAlert): string {
  const subject = alert.slo === null ? alert.alertname : `${alert.slo} SLO`;
  const detail = budgetDetail(alert) ?? alert.summary;
  return detail === null ? subject : `${subject}: ${detail}`;
}

function budgetDetail(alert: NormalizedAlert): string | null {
  const consumed = alert.budgetConsumed === null ? null : formatFraction(alert.budgetConsumed);
  const burn = alert.burnRate === null ? null : formatBurnRate(alert.burnRate);
  if (consumed !== null && burn !== null) return `${consumed} of error budget consumed (${burn} burn)`;
  if (consumed !== null) return `${consumed} of error budget consumed`;
  if (burn !== null) return `error budget burning at ${burn}`;
  return null;
}

function facts(alert: NormalizedAlert, firedFor: string | null): Fact[] {
  const all: Array<[string, string | null]> = [
    ['Service', alert.service],
    ['Burn rate', alert.burnRate === null ? null : burnRateFact(alert.burnRate, alert.burnRateThreshold)],
    ['Budget consumed', alert.budgetConsumed === null ? null : formatFraction(alert.budgetConsumed)],
    [
      'Budget exhausted in',
      alert.timeToExhaustionSeconds === null ? null : formatDuration(alert.timeToExhaustionSeconds * 1000),
    ],
    ['Objective', alert.objective === null ? null : `${alert.objective}%${alert.period ? ` over ${alert.period}` : ''}`],
    ['Alert window', alert.longWindow === null ? null : windows(alert.longWindow, alert.shortWindow)],
    ['Started', alert.startsAt],
    ['Fired for', firedFor],
  ];
  return all.flatMap(([label, value]) => (value === null ? [] : [{ label, value }]));
}

function burnRateFact(burnRate: number, threshold: number | null): string {
  const observed = formatBurnRate(burnRate);
  return threshold === null || formatBurnRate(threshold) === observed
    ? observed
    : `${observed} (alerts at ${formatBurnRate(threshold)})`;
}

function windows(long: string, short: string | null): string {
  return short === null ? long : `${long} (short ${short})`;
}

function firedDuration(alert: NormalizedAlert): string | null {
  if (alert.status !== 'resolved' || alert.endsAt === null) return null;
  const ms = Date.parse(alert.endsAt) - Date.parse(alert.startsAt);
  return Number.isFinite(ms) && ms >= 0 ? formatDuration(ms) : null;
}

function links(alert: NormalizedAlert): Link[] {
  const all: Array<[string, string | null]> = [
    ['Runbook', alert.runbookUrl],
    ['Dashboard', alert.dashboardUrl],
    ['Prometheus expression', alert.generatorUrl],
    ['Silence', alert.status === 'firing' ? silenceUrl(alert.externalUrl, alert.labels) : null],
  ];
  return all.flatMap(([label, url]) => {
    const safe = url === null ? null : httpUrl(url);
    return safe === null ? [] : [{ label, url: safe }];
  });
}

/** The Alertmanager UI's "new silence" form, pre-filled with this alert's labels. */
export function silenceUrl(externalUrl: string, labels: Record<string, string>): string | null {
  if (externalUrl === '' || Object.keys(labels).length === 0) return null;
  const matchers = Object.keys(labels)
    .sort()
    .map((name) => `${name}="${quoteMatcherValue(labels[name]!)}"`);
  return `${externalUrl.replace(/\/+$/, '')}/#/silences/new?filter=${encodeURIComponent(`{${matchers.join(',')}}`)}`;
}

function quoteMatcherValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Annotations are untrusted: only absolute http(s) URLs become links (no `javascript:` in an href). */
function httpUrl(text: string): string | null {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}
