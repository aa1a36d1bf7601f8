import { z } from 'zod';
import { parseDuration } from '../config/duration.js';
import type { ChannelKind, ReceiverConfig } from '../domain/channels.js';
import { emailAddress, mailbox } from '../domain/email-address.js';
import { RoutingSyntaxError } from './errors.js';
import type { PathIssue } from './interpolate.js';
import { parseMatcher } from './matchers.js';
import { assertTimeZone, parseDayOfMonthRange, parseMonthRange, parseTimeOfDay, parseWeekdayRange, parseYearRange } from './time-interval-syntax.js';
import type { IncidentSettings, RouteConfig, RoutingConfig, TimeIntervalConfig, TimeRange } from './types.js';

export const DEFAULT_REPEAT_INTERVAL_MS = 24 * 3_600_000;
/** Twice the repeat_interval of deploy/alertmanager/alertmanager.yml (4h): a firing alert is re-sent at least that often. */
export const DEFAULT_STALE_AFTER_MS = 8 * 3_600_000;
export const DEFAULT_RESOLVE_HOLD_MS = 5 * 60_000;
export const DEFAULT_INCIDENT_SETTINGS: IncidentSettings = {
  incidentBy: null,
  staleAfterMs: DEFAULT_STALE_AFTER_MS,
  resolveHoldMs: DEFAULT_RESOLVE_HOLD_MS,
};
/** The route name under which default_receivers deliver; no route in the file may take it. */
export const DEFAULT_ROUTE_NAME = 'default';

const CHANNELS: readonly ChannelKind[] = ['slack', 'email', 'pagerduty'];

const name = z.string().min(1, 'must not be empty');

/** A string (or, for ranges, a number) turned into a value by one of the routing parsers. */
function parsedBy<T>(parse: (text: string) => T, input: z.ZodType<string | number> = z.string()) {
  return input.transform((raw, ctx) => {
    try {
      return parse(String(raw));
    } catch (error) {
      if (!(error instanceof RoutingSyntaxError)) throw error;
      ctx.addIssue(error.message);
      return z.NEVER;
    }
  });
}

const durationOf = (allowZero: boolean) =>
  parsedBy((text) => {
    const ms = parseDuration(text);
    if (ms === null || (ms === 0 && !allowZero)) {
      throw new RoutingSyntaxError(`invalid duration "${text}" (expected a Prometheus duration such as 4h or 30m)`);
    }
    return ms;
  });
const duration = durationOf(false);

/** A Prometheus label name. */
const labelName = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'expected a label name ([a-zA-Z_][a-zA-Z0-9_]*)');

const receiverSchema = z
  .strictObject({
    name,
    slack: z.strictObject({ channel: name }).optional(),
    email: z.strictObject({ to: z.array(emailAddress).min(1, 'needs at least one address'), from: mailbox.optional() }).optional(),
    pagerduty: z.strictObject({ routing_key: name.optional() }).optional(),
  })
  .transform((receiver, ctx): ReceiverConfig => {
    const channels = CHANNELS.filter((kind) => receiver[kind] !== undefined);
    if (channels.length !== 1) {
      const has = channels.length === 0 ? 'none' : channels.join(' and ');
      ctx.addIssue(`receiver "${receiver.name}" needs exactly one channel (slack, email or pagerduty), it has ${has}`);
      return z.NEVER;
    }
    if (receiver.slack) return { name: receiver.name, kind: 'slack', slack: receiver.slack };
    if (receiver.email) return { name: receiver.name, kind: 'email', email: receiver.email };
    return { name: receiver.name, kind: 'pagerduty', pagerduty: { routingKey: receiver.pagerduty!.routing_key } };
  });

const routeSchema = z
  .strictObject({
    name,
    matchers: z.array(parsedBy(parseMatcher)).default([]),
    receivers: z.array(name).min(1, 'needs at least one receiver'),
    continue: z.boolean().default(false),
    repeat_interval: duration.default(DEFAULT_REPEAT_INTERVAL_MS),
    active_time_intervals: z.array(name).default([]),
    mute_time_intervals: z.array(name).default([]),
    incident_by: z
      .array(labelName)
      .min(1, 'needs at least one label')
      .refine((labels) => new Set(labels).size === labels.length, 'names a label twice')
      .optional(),
    stale_after: duration.default(DEFAULT_STALE_AFTER_MS),
    resolve_hold: durationOf(true).default(DEFAULT_RESOLVE_HOLD_MS),
  })
  .transform(
    (route): RouteConfig => ({
      name: route.name,
      matchers: route.matchers,
      receivers: route.receivers,
      continue: route.continue,
      repeatIntervalMs: route.repeat_interval,
      activeTimeIntervals: route.active_time_intervals,
      muteTimeIntervals: route.mute_time_intervals,
      incident: { incidentBy: route.incident_by ?? null, staleAfterMs: route.stale_after, resolveHoldMs: route.resolve_hold },
    }),
  );

const rangeText = z.union([z.string(), z.int()], { error: 'expected a string or a whole number' });

const timeRangeSchema = z
  .strictObject({
    times: z
      .array(
        z.strictObject({ start_time: parsedBy(parseTimeOfDay), end_time: parsedBy(parseTimeOfDay) }).transform((times, ctx) => {
          if (times.start_time >= times.end_time) {
            ctx.addIssue('start_time must be before end_time');
            return z.NEVER;
          }
          return { startMinute: times.start_time, endMinute: times.end_time };
        }),
      )
      .optional(),
    weekdays: z.array(parsedBy(parseWeekdayRange, rangeText)).optional(),
    days_of_month: z.array(parsedBy(parseDayOfMonthRange, rangeText)).optional(),
    months: z.array(parsedBy(parseMonthRange, rangeText)).optional(),
    years: z.array(parsedBy(parseYearRange, rangeText)).optional(),
    location: parsedBy((zone) => {
      assertTimeZone(zone);
      return zone;
    }).default('UTC'),
  })
  .transform(
    (range): TimeRange => ({
      times: range.times,
      weekdays: range.weekdays,
      daysOfMonth: range.days_of_month,
      months: range.months,
      years: range.years,
      location: range.location,
    }),
  );

const timeIntervalSchema = z
  .strictObject({ name, time_intervals: z.array(timeRangeSchema).min(1, 'needs at least one time range') })
  .transform((interval): TimeIntervalConfig => ({ name: interval.name, intervals: interval.time_intervals }));

export const routingFileSchema = z
  .strictObject({
    receivers: z.array(receiverSchema).min(1, 'needs at least one receiver'),
    routes: z.array(routeSchema),
    default_receivers: z.array(name).min(1, 'needs at least one receiver, so that no alert is dropped'),
    time_intervals: z.array(timeIntervalSchema).default([]),
  })
  .transform(
    (file): RoutingConfig => ({
      receivers: file.receivers,
      routes: file.routes,
      defaultReceivers: file.default_receivers,
      timeIntervals: file.time_intervals,
    }),
  );

/** What the schema cannot see alone: names must be unique, and every reference must resolve. */
export function crossCheck(config: RoutingConfig): PathIssue[] {
  const issues: PathIssue[] = [];
  const receivers = uniqueNames(config.receivers, 'receivers', 'receiver', issues);
  const intervals = uniqueNames(config.timeIntervals, 'time_intervals', 'time interval', issues);
  uniqueNames(config.routes, 'routes', 'route', issues);

  const checkReferences = (names: string[], known: Set<string>, path: PropertyKey[], what: string) => {
    names.forEach((referenced, i) => {
      if (!known.has(referenced)) issues.push({ path: [...path, i], message: `undefined ${what} "${referenced}"` });
    });
  };
  config.routes.forEach((route, i) => {
    if (route.name === DEFAULT_ROUTE_NAME) {
      issues.push({ path: ['routes', i, 'name'], message: `route name "${DEFAULT_ROUTE_NAME}" is reserved for default_receivers` });
    }
    checkReferences(route.receivers, receivers, ['routes', i, 'receivers'], 'receiver');
    checkReferences(route.activeTimeIntervals, intervals, ['routes', i, 'active_time_intervals'], 'time interval');
    checkReferences(route.muteTimeIntervals, intervals, ['routes', i, 'mute_time_intervals'], 'time interval');
  });
  checkReferences(config.defaultReceivers, receivers, ['default_receivers'], 'receiver');
  return issues;
}

function uniqueNames(items: Array<{ name: string }>, list: string, what: string, issues: PathIssue[]): Set<string> {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (seen.has(item.name)) issues.push({ path: [list, i, 'name'], message: `duplicate ${what} name "${item.name}"` });
    seen.add(item.name);
  });
  return seen;
}
