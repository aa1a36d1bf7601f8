import type { Severity } from '../../alerts/types.js';
import { formatDuration } from '../../config/duration.js';

/** Figures and times as people read them; every channel uses these. */

/** 6 -> "6.0x" */
export function formatBurnRate(burnRate: number): string {
  return `${burnRate.toFixed(1)}x`;
}

/** 0.05 -> "5%", 0.0213 -> "2.1%", -0.1 -> "-10%" */
export function formatFraction(fraction: number): string {
  return `${Number((fraction * 100).toFixed(1))}%`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * `12:10 UTC` on the day of `now`, `27 Nov 12:10 UTC` on another day of its year,
 * `27 Nov 2025 12:10 UTC` otherwise; null for a time that does not parse.
 */
export function formatClock(iso: string | number, now: number): string | null {
  const at = typeof iso === 'number' ? iso : Date.parse(iso);
  if (!Number.isFinite(at)) return null;
  const date = new Date(at);
  const today = new Date(now);
  const clock = `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())} UTC`;
  if (date.toISOString().slice(0, 10) === today.toISOString().slice(0, 10)) return clock;
  const day = `${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]}`;
  return date.getUTCFullYear() === today.getUTCFullYear() ? `${day} ${clock}` : `${day} ${date.getUTCFullYear()} ${clock}`;
}

/** `27 Nov 2026 12:10 UTC` whatever the day: for text that must not change with time (a mail thread's subject). */
export function formatDateTime(iso: string): string | null {
  const at = Date.parse(iso);
  if (!Number.isFinite(at)) return null;
  const date = new Date(at);
  return `${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())} UTC`;
}

/** `12:10 UTC (4 min ago)`; `in 5 min` for a time still ahead. */
export function formatTime(iso: string | number, now: number): string | null {
  const clock = formatClock(iso, now);
  if (clock === null) return null;
  const at = typeof iso === 'number' ? iso : Date.parse(iso);
  return `${clock} (${relative(at, now)})`;
}

/** "just now", "4 min ago", "2h 5m ago", "in 5 min". */
export function relative(at: number, now: number): string {
  const ms = now - at;
  const span = Math.abs(ms);
  if (span < 60_000) return 'just now';
  const text = span < 3_600_000 ? `${Math.floor(span / 60_000)} min` : formatDuration(span - (span % 60_000));
  return ms >= 0 ? `${text} ago` : `in ${text}`;
}

/** How long something lasted, to the minute once over an hour: "2h 5m", "45m", "30s". */
export function formatSpan(ms: number): string {
  return formatDuration(ms >= 3_600_000 ? ms - (ms % 60_000) : ms);
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

export function severityRank(severity: Severity): number {
  return SEVERITY_RANK[severity];
}

/** The Alertmanager UI's "new silence" form, pre-filled with these label matchers. */
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
export function httpUrl(text: string): string | null {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}
