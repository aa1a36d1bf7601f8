import type { InclusiveRange } from './time-interval-syntax.js';
import type { TimeIntervalConfig, TimeRange } from './types.js';

/** Alertmanager semantics: `at` is inside the interval when it is inside any of its time ranges. */
export function isInTimeInterval(interval: TimeIntervalConfig, at: Date): boolean {
  return interval.intervals.some((range) => isInTimeRange(range, at));
}

/** Every field present must contain the instant, read as wall-clock time in the range's location. */
export function isInTimeRange(range: TimeRange, at: Date): boolean {
  const local = wallClock(at, range.location);
  const minute = local.hour * 60 + local.minute;
  const dayCount = daysInMonth(local.year, local.month);
  const inRanges = (ranges: InclusiveRange[] | undefined, value: number) => ranges === undefined || ranges.some((r) => value >= r.start && value <= r.end);
  return (
    (range.times === undefined || range.times.some((t) => minute >= t.startMinute && minute < t.endMinute)) &&
    inRanges(
      range.daysOfMonth?.flatMap((r) => dayRangeIn(r, dayCount)),
      local.day,
    ) &&
    inRanges(range.months, local.month) &&
    inRanges(range.weekdays, local.weekday) &&
    inRanges(range.years, local.year)
  );
}

/** Resolves negative days against this month's length; drops ranges that start after its end. */
function dayRangeIn(range: InclusiveRange, dayCount: number): InclusiveRange[] {
  const resolve = (day: number) => (day < 0 ? dayCount + day + 1 : day);
  const start = resolve(range.start);
  if (start > dayCount) return [];
  return [{ start: Math.max(start, 1), end: Math.min(resolve(range.end), dayCount) }];
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

interface WallClock {
  year: number;
  /** 1..12 */
  month: number;
  day: number;
  /** 0 = Sunday */
  weekday: number;
  hour: number;
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const SHORT_WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

function wallClock(at: Date, zone: string): WallClock {
  let formatter = formatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      weekday: 'short',
      hour: 'numeric',
      minute: 'numeric',
    });
    formatters.set(zone, formatter);
  }
  const parts = Object.fromEntries(formatter.formatToParts(at).map((part) => [part.type, part.value]));
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    weekday: SHORT_WEEKDAYS.indexOf(parts.weekday!),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
  };
}
