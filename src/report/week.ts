/**
 * ISO 8601 weeks (Monday to Monday) in a time zone: the span a weekly SLO review covers.
 * Calendar arithmetic is done on UTC dates; a zone's local midnight is found from the zone's offset
 * (Intl), so a week that crosses a daylight-saving change is 167 or 169 hours long.
 */

export interface IsoWeek {
  /** "2026-W49" */
  id: string;
  year: number;
  week: number;
  timeZone: string;
  /** Epoch ms of Monday 00:00 in the zone (included) and of the next Monday 00:00 (excluded). */
  start: number;
  end: number;
}

const WEEK_ID = /^(\d{4})-W(\d{2})$/;
const DAY_MS = 86_400_000;

export class WeekError extends Error {
  override name = 'WeekError';
}

/** Throws a WeekError when the zone is not an IANA time zone that this Node knows. */
export function checkTimeZone(timeZone: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    throw new WeekError(`unknown time zone "${timeZone}" (expected an IANA name such as Europe/Paris or UTC)`);
  }
  return timeZone;
}

/** Offset of the zone from UTC at an instant, in ms (Paris in winter: +3_600_000). */
export function zoneOffsetMs(timeZone: string, at: number): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(new Date(at));
  const part = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  const local = Date.UTC(part('year'), part('month') - 1, part('day'), part('hour'), part('minute'), part('second'));
  return local - Math.floor(at / 1000) * 1000;
}

/** Epoch ms of 00:00 on a calendar day (given as the UTC midnight of that date) in the zone. */
function zonedMidnight(utcDate: number, timeZone: string): number {
  let guess = utcDate - zoneOffsetMs(timeZone, utcDate);
  // Twice: the offset at the guess may differ from the offset at the true instant near a change.
  guess = utcDate - zoneOffsetMs(timeZone, guess);
  return guess;
}

/** The calendar date (as its UTC midnight) that the instant falls on in the zone. */
function localDate(at: number, timeZone: string): number {
  const shifted = at + zoneOffsetMs(timeZone, at);
  return Math.floor(shifted / DAY_MS) * DAY_MS;
}

/** Monday (UTC midnight) of ISO week 1 of a year: the week holding January 4th. */
function week1Monday(year: number): number {
  const jan4 = Date.UTC(year, 0, 4);
  const weekday = (new Date(jan4).getUTCDay() + 6) % 7; // Monday 0
  return jan4 - weekday * DAY_MS;
}

function weeksInYear(year: number): number {
  return Math.round((week1Monday(year + 1) - week1Monday(year)) / (7 * DAY_MS));
}

function makeWeek(year: number, week: number, timeZone: string): IsoWeek {
  const monday = week1Monday(year) + (week - 1) * 7 * DAY_MS;
  return {
    id: `${year}-W${String(week).padStart(2, '0')}`,
    year,
    week,
    timeZone,
    start: zonedMidnight(monday, timeZone),
    end: zonedMidnight(monday + 7 * DAY_MS, timeZone),
  };
}

/** "2026-W49" in the zone; a WeekError for a malformed id or a week the year does not have. */
export function parseWeek(id: string, timeZone: string): IsoWeek {
  const match = WEEK_ID.exec(id.trim());
  if (!match) throw new WeekError(`expected an ISO week such as 2026-W49, got "${id}"`);
  const year = Number(match[1]);
  const week = Number(match[2]);
  if (week < 1 || week > weeksInYear(year)) throw new WeekError(`${year} has no week ${week} (it has ${weeksInYear(year)})`);
  return makeWeek(year, week, checkTimeZone(timeZone));
}

/** The ISO week holding the instant, in the zone. */
export function weekOf(at: number, timeZone: string): IsoWeek {
  const date = localDate(at, checkTimeZone(timeZone));
  const weekday = (new Date(date).getUTCDay() + 6) % 7;
  const thursday = date + (3 - weekday) * DAY_MS; // the ISO year is the year of the week's Thursday
  const year = new Date(thursday).getUTCFullYear();
  const week = Math.floor((thursday - week1Monday(year)) / (7 * DAY_MS)) + 1;
  return makeWeek(year, week, timeZone);
}

/** The week `count` weeks before (negative: after). */
export function weeksBefore(week: IsoWeek, count: number): IsoWeek {
  // Thursday noon of the week, moved by whole weeks, is never near a day boundary.
  const thursdayNoon = week.start + 3 * DAY_MS + 12 * 3_600_000;
  return weekOf(thursdayNoon - count * 7 * DAY_MS, week.timeZone);
}

/** The last week that has ended at `now`: what the Monday mail reviews. */
export function lastCompleteWeek(now: number, timeZone: string): IsoWeek {
  return weeksBefore(weekOf(now, timeZone), 1);
}
