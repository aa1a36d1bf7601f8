import { RoutingSyntaxError } from './errors.js';

// Alertmanager's time_intervals syntax: times of day, and ranges of weekdays, days of month, months, years.

/** Inclusive range of weekdays, days of month, months or years. */
export interface InclusiveRange {
  start: number;
  end: number;
}

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];

/** "HH:MM" to minutes after midnight; 24:00 is allowed as the end of the day. */
export function parseTimeOfDay(text: string): number {
  const parts = /^([01]\d|2[0-3]):([0-5]\d)$|^24:00$/.exec(text);
  if (!parts) throw new RoutingSyntaxError(`invalid time "${text}" (expected HH:MM between 00:00 and 24:00)`);
  return parts[1] === undefined ? 24 * 60 : Number(parts[1]) * 60 + Number(parts[2]);
}

/** How one kind of range is written, and what makes a parsed range wrong. */
interface RangeSyntax {
  what: string;
  hint: string;
  bound: (text: string) => number | undefined;
  problem: (range: InclusiveRange) => string | undefined;
}

const startAfterEnd = (range: InclusiveRange) => (range.start > range.end ? 'start is after end' : undefined);

const WEEKDAY_RANGE: RangeSyntax = {
  what: 'weekday',
  hint: 'expected monday, or a range such as monday:friday',
  bound: (text) => indexOfName(text, WEEKDAYS, 0),
  problem: ({ start, end }) => {
    if (start <= end) return undefined;
    // Weeks run Sunday to Saturday, as in Alertmanager: a range over the weekend takes two entries.
    const [from, to] = [WEEKDAYS[start]!, WEEKDAYS[end]!];
    const first = from === 'saturday' ? from : `${from}:saturday`;
    const second = to === 'sunday' ? to : `sunday:${to}`;
    return `start is after end; weeks run from sunday to saturday, so write ${first} and ${second}`;
  },
};

const MONTH_RANGE: RangeSyntax = {
  what: 'month',
  hint: 'expected january or 1, or a range such as january:march',
  bound: (text) => indexOfName(text, MONTHS, 1) ?? integerIn(text, 1, 12),
  problem: startAfterEnd,
};

const DAY_OF_MONTH_RANGE: RangeSyntax = {
  what: 'day of month',
  hint: 'expected 1 to 31, -1 for the last day, or a range such as 1:7',
  bound: (text) => {
    const day = integerIn(text, -31, 31);
    return day === 0 ? undefined : day;
  },
  problem: ({ start, end }) => {
    // As Alertmanager: otherwise the range would be empty in short months only.
    if (start < 0 && end > 0) return 'a negative start needs a negative end';
    // Compared in a 31-day month: a range empty even there is empty in every month.
    const inLongestMonth = (day: number) => (day < 0 ? 32 + day : day);
    return inLongestMonth(start) > inLongestMonth(end) ? 'start is after end' : undefined;
  },
};

const YEAR_RANGE: RangeSyntax = {
  what: 'year',
  hint: 'expected a year such as 2025, or a range such as 2025:2026',
  bound: (text) => integerIn(text, 1, 9999),
  problem: startAfterEnd,
};

/** 'monday' or 'monday:friday'; 0 = Sunday. */
export function parseWeekdayRange(text: string): InclusiveRange {
  return parseRange(text, WEEKDAY_RANGE);
}

/** 'january:march', '1:3' or '12'. */
export function parseMonthRange(text: string): InclusiveRange {
  return parseRange(text, MONTH_RANGE);
}

/** '1:5', '-3:-1' (counted from the end of the month) or '15'. */
export function parseDayOfMonthRange(text: string): InclusiveRange {
  return parseRange(text, DAY_OF_MONTH_RANGE);
}

/** '2024' or '2024:2026'. */
export function parseYearRange(text: string): InclusiveRange {
  return parseRange(text, YEAR_RANGE);
}

/** Throws unless `zone` is an IANA time zone the runtime knows. */
export function assertTimeZone(zone: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch {
    throw new RoutingSyntaxError(`unknown time zone "${zone}" (expected an IANA name such as Europe/Paris)`);
  }
}

function parseRange(text: string, syntax: RangeSyntax): InclusiveRange {
  const bounds = text.split(':');
  const [start, end] = bounds.map((bound) => syntax.bound(bound.trim().toLowerCase()));
  if (bounds.length > 2 || start === undefined || (bounds.length === 2 && end === undefined)) {
    throw new RoutingSyntaxError(`invalid ${syntax.what} range "${text}" (${syntax.hint})`);
  }
  const range = { start, end: end ?? start };
  const problem = syntax.problem(range);
  if (problem !== undefined) throw new RoutingSyntaxError(`invalid ${syntax.what} range "${text}" (${problem})`);
  return range;
}

function indexOfName(name: string, names: string[], first: number): number | undefined {
  const index = names.indexOf(name);
  return index === -1 ? undefined : index + first;
}

function integerIn(text: string, min: number, max: number): number | undefined {
  if (!/^-?\d+$/.test(text)) return undefined;
  const value = Number(text);
  return value >= min && value <= max ? value : undefined;
}
