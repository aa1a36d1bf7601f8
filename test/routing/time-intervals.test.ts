import { describe, expect, it } from 'vitest';
import { parseDayOfMonthRange, parseMonthRange, parseTimeOfDay, parseWeekdayRange, parseYearRange } from '../../src/routing/time-interval-syntax.js';
import { isInTimeInterval, isInTimeRange } from '../../src/routing/time-intervals.js';
import type { TimeRange } from '../../src/routing/types.js';

const weekdays = { weekdays: [parseWeekdayRange('monday:friday')] };
const officeHours = { times: [{ startMinute: parseTimeOfDay('09:00'), endMinute: parseTimeOfDay('17:30') }] };

describe('isInTimeRange', () => {
  it.each<[string, Omit<TimeRange, 'location'>, string, string, boolean]>([
    // 2025-01-06 is a Monday
    ['weekdays, Monday', weekdays, 'UTC', '2025-01-06T12:00:00Z', true],
    ['weekdays, Friday', weekdays, 'UTC', '2025-01-10T23:59:00Z', true],
    ['weekdays, Saturday', weekdays, 'UTC', '2025-01-11T00:00:00Z', false],
    ['weekdays, Sunday', weekdays, 'UTC', '2025-01-05T12:00:00Z', false],
    ['a single weekday', { weekdays: [parseWeekdayRange('Sunday')] }, 'UTC', '2025-01-05T12:00:00Z', true],
    // times are [start, end)
    ['office hours, start is inside', officeHours, 'UTC', '2025-01-06T09:00:00Z', true],
    ['office hours, a minute before', officeHours, 'UTC', '2025-01-06T08:59:59Z', false],
    ['office hours, end is outside', officeHours, 'UTC', '2025-01-06T17:30:00Z', false],
    ['office hours, a minute before the end', officeHours, 'UTC', '2025-01-06T17:29:00Z', true],
    ['until 24:00', { times: [{ startMinute: 22 * 60, endMinute: parseTimeOfDay('24:00') }] }, 'UTC', '2025-01-06T23:59:00Z', true],
    // wall-clock time in the range's location, daylight saving included
    ['Paris winter, 09:30 local', officeHours, 'Europe/Paris', '2025-01-06T08:30:00Z', true],
    ['Paris winter, 17:45 local', officeHours, 'Europe/Paris', '2025-01-06T16:45:00Z', false],
    ['Paris summer, 09:30 local', officeHours, 'Europe/Paris', '2025-07-07T07:30:00Z', true],
    ['Paris summer, 08:30 local', officeHours, 'Europe/Paris', '2025-07-07T06:30:00Z', false],
    ['Sunday in UTC, Monday in Tokyo', weekdays, 'Asia/Tokyo', '2025-01-05T20:00:00Z', true],
    ['Saturday in UTC, Friday in Los Angeles', weekdays, 'America/Los_Angeles', '2025-01-11T03:00:00Z', true],
    // days of month, negative from the end of the month
    ['last day, leap February', { daysOfMonth: [parseDayOfMonthRange('-1')] }, 'UTC', '2024-02-29T12:00:00Z', true],
    ['last day, not yet', { daysOfMonth: [parseDayOfMonthRange('-1')] }, 'UTC', '2024-02-28T12:00:00Z', false],
    ['last week of December', { daysOfMonth: [parseDayOfMonthRange('-7:-1')] }, 'UTC', '2025-12-25T00:00:00Z', true],
    ['last week of December, too early', { daysOfMonth: [parseDayOfMonthRange('-7:-1')] }, 'UTC', '2025-12-24T23:59:00Z', false],
    ['1:5', { daysOfMonth: [parseDayOfMonthRange('1:5')] }, 'UTC', '2025-03-05T10:00:00Z', true],
    ['28:31 clamped to February', { daysOfMonth: [parseDayOfMonthRange('28:31')] }, 'UTC', '2025-02-28T10:00:00Z', true],
    ['30:31 never in February', { daysOfMonth: [parseDayOfMonthRange('30:31')] }, 'UTC', '2025-02-28T10:00:00Z', false],
    ['day 1 in Paris is the 31st in UTC', { daysOfMonth: [parseDayOfMonthRange('1')] }, 'Europe/Paris', '2025-12-31T23:30:00Z', true],
    // months and years
    ['months by name', { months: [parseMonthRange('november:december')] }, 'UTC', '2025-12-01T00:00:00Z', true],
    ['months by number', { months: [parseMonthRange('1:3')] }, 'UTC', '2025-04-01T00:00:00Z', false],
    ['years', { years: [parseYearRange('2024:2025')] }, 'UTC', '2025-06-01T00:00:00Z', true],
    ['years, after', { years: [parseYearRange('2024:2025')] }, 'UTC', '2026-01-01T00:00:00Z', false],
    // every field present must hold; an empty range always holds
    ['weekday and time, both hold', { ...weekdays, ...officeHours }, 'UTC', '2025-01-06T10:00:00Z', true],
    ['weekday and time, the day fails', { ...weekdays, ...officeHours }, 'UTC', '2025-01-11T10:00:00Z', false],
    ['no fields', {}, 'UTC', '2025-01-11T10:00:00Z', true],
  ])('%s', (_name, fields, location, at, expected) => {
    expect(isInTimeRange({ ...fields, location }, new Date(at))).toBe(expected);
  });
});

describe('isInTimeInterval', () => {
  const weekend = {
    name: 'weekend',
    intervals: [
      { weekdays: [parseWeekdayRange('saturday'), parseWeekdayRange('sunday')], location: 'UTC' },
      // Friday evening counts as the weekend too: any range may hold.
      { weekdays: [parseWeekdayRange('friday')], times: [{ startMinute: 18 * 60, endMinute: 24 * 60 }], location: 'UTC' },
    ],
  };
  it.each([
    ['2025-01-11T10:00:00Z', true],
    ['2025-01-10T19:00:00Z', true],
    ['2025-01-10T17:00:00Z', false],
  ])('weekend at %s is %s', (at, expected) => {
    expect(isInTimeInterval(weekend, new Date(at))).toBe(expected);
  });
});

describe('syntax', () => {
  it.each([
    [parseWeekdayRange, 'Monday:FRIDAY', { start: 1, end: 5 }],
    [parseWeekdayRange, 'sunday', { start: 0, end: 0 }],
    [parseMonthRange, 'january:march', { start: 1, end: 3 }],
    [parseMonthRange, '12', { start: 12, end: 12 }],
    [parseDayOfMonthRange, '-3:-1', { start: -3, end: -1 }],
    [parseDayOfMonthRange, '25:-1', { start: 25, end: -1 }],
    [parseYearRange, '2025', { start: 2025, end: 2025 }],
  ])('%o(%j)', (parse, text, expected) => {
    expect(parse(text)).toEqual(expected);
  });

  it.each([
    ['00:00', 0],
    ['09:30', 570],
    ['23:59', 1439],
    ['24:00', 1440],
  ])('time %s is minute %d', (text, minute) => {
    expect(parseTimeOfDay(text)).toBe(minute);
  });

  it.each(['24:01', '9:30', '12:60', 'noon'])('time %s is refused', (text) => {
    expect(() => parseTimeOfDay(text)).toThrow(`invalid time "${text}" (expected HH:MM between 00:00 and 24:00)`);
  });

  it('refuses a weekday range across the end of the week, as Alertmanager does', () => {
    expect(() => parseWeekdayRange('saturday:sunday')).toThrow(
      'invalid weekday range "saturday:sunday" (start is after end; weeks run from sunday to saturday, so write saturday and sunday)',
    );
  });

  it('refuses a day-of-month range empty in every month', () => {
    expect(() => parseDayOfMonthRange('30:-5')).toThrow('invalid day of month range "30:-5" (start is after end)');
  });
});
