import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRoutingConfig, parseRoutingConfig, RoutingConfigError } from '../../src/routing/config.js';
import { routeAlert } from '../../src/routing/route.js';

const FIXTURES = relative(process.cwd(), join(import.meta.dirname, '../fixtures/routing'));
const fixture = (name: string) => join(FIXTURES, name);

/** The message a load fails with; fails the test when it loads. */
function errorOf(load: () => unknown): string {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(RoutingConfigError);
    return (error as Error).message;
  }
  throw new Error('the routing file loaded, but it should not');
}
const loadError = (file: string) => errorOf(() => loadRoutingConfig(file, {}));

describe('the shipped routing/routes.yaml', () => {
  const config = loadRoutingConfig('routing/routes.yaml', {});

  it('validates with an empty environment, defaults filled in', () => {
    expect(config.receivers).toEqual([
      { name: 'oncall-pagerduty', kind: 'pagerduty', pagerduty: { routingKey: undefined } },
      { name: 'ops-slack', kind: 'slack', slack: { channel: '#maestro-alerts' } },
      { name: 'ops-email', kind: 'email', email: { to: ['ops@maestro.example'] } },
    ]);
    expect(config.defaultReceivers).toEqual(['ops-slack']);
  });

  it.each([
    ['critical', 'pages', ['oncall-pagerduty', 'ops-slack']],
    ['warning', 'warnings', ['ops-email', 'ops-slack']],
  ])('routes %s alerts through %s to %j', (severity, route, receivers) => {
    const decision = routeAlert(config, { severity, slo: 'api-latency' }, new Date());
    expect(decision.usedDefault).toBe(false);
    expect(decision.deliveries).toEqual(receivers.map((receiver) => ({ route, receiver, repeatIntervalMs: 86_400_000 })));
  });

  it('sends what matches no route (info) to the default receivers', () => {
    const decision = routeAlert(config, { severity: 'info' }, new Date());
    expect(decision.usedDefault).toBe(true);
    expect(decision.deliveries).toEqual([{ route: 'default', receiver: 'ops-slack', repeatIntervalMs: 86_400_000 }]);
  });

  it('takes its channel and address from the environment when set', () => {
    const custom = loadRoutingConfig('routing/routes.yaml', { SLACK_CHANNEL: '#sre', EMAIL_TO: 'sre@maestro.example' });
    expect(custom.receivers.slice(1)).toEqual([
      { name: 'ops-slack', kind: 'slack', slack: { channel: '#sre' } },
      { name: 'ops-email', kind: 'email', email: { to: ['sre@maestro.example'] } },
    ]);
  });
});

describe('a file using every feature', () => {
  it('compiles to camelCase config with parsed matchers, durations and time intervals', () => {
    const config = loadRoutingConfig(fixture('complete.yaml'), {});
    expect(config.receivers[0]).toEqual({
      name: 'oncall-pagerduty',
      kind: 'pagerduty',
      pagerduty: { routingKey: '0123456789abcdef0123456789abcdef' },
    });
    expect(config.receivers[2]).toEqual({
      name: 'ops-email',
      kind: 'email',
      email: { to: ['ops@maestro.example', 'dba@maestro.example'], from: 'Maestro AlertCenter <alertcenter@maestro.example>' },
    });
    const routes = config.routes.map(({ matchers, ...route }) => ({ ...route, matchers: matchers.map((m) => [m.name, m.type, m.value]) }));
    expect(routes).toEqual([
      {
        name: 'database-pages',
        matchers: [
          ['severity', '=', 'critical'],
          ['slo', '=~', 'database-.*'],
        ],
        receivers: ['oncall-pagerduty', 'ops-email'],
        continue: true,
        repeatIntervalMs: 4 * 3_600_000,
        activeTimeIntervals: [],
        muteTimeIntervals: [],
        incident: { incidentBy: ['slo', 'service', 'tenant'], staleAfterMs: 2 * 3_600_000, resolveHoldMs: 0 },
      },
      {
        name: 'pages',
        matchers: [['severity', '=', 'critical']],
        receivers: ['oncall-pagerduty'],
        continue: false,
        repeatIntervalMs: 86_400_000,
        activeTimeIntervals: [],
        muteTimeIntervals: ['year-end-freeze'],
        incident: { incidentBy: null, staleAfterMs: 8 * 3_600_000, resolveHoldMs: 5 * 60_000 },
      },
      {
        name: 'tickets',
        matchers: [
          ['severity', '=', 'warning'],
          ['team', '!~', '(?:web|mobile)'],
        ],
        receivers: ['ops-email'],
        continue: false,
        repeatIntervalMs: 86_400_000,
        activeTimeIntervals: ['office-hours'],
        muteTimeIntervals: [],
        incident: { incidentBy: null, staleAfterMs: 8 * 3_600_000, resolveHoldMs: 5 * 60_000 },
      },
    ]);
    expect(config.routes[0]!.matchers[1]!.regex).toEqual(/^(?:database-.*)$/);
    expect(config.timeIntervals).toEqual([
      {
        name: 'office-hours',
        intervals: [{ times: [{ startMinute: 9 * 60, endMinute: 17 * 60 + 30 }], weekdays: [{ start: 1, end: 5 }], location: 'Europe/Paris' }],
      },
      {
        name: 'year-end-freeze',
        intervals: [
          {
            daysOfMonth: [{ start: -7, end: -1 }],
            months: [{ start: 12, end: 12 }],
            years: [
              { start: 2025, end: 2025 },
              { start: 2026, end: 2027 },
            ],
            location: 'UTC',
          },
        ],
      },
    ]);
  });
});

describe('environment interpolation', () => {
  const channelOf = (channel: string, env: Record<string, string | undefined>) => {
    const text = `receivers:\n  - name: ops-slack\n    slack: { channel: "${channel}" }\nroutes: []\ndefault_receivers: [ops-slack]\n`;
    const receiver = parseRoutingConfig(text, 'routes.yaml', env).receivers[0]!;
    return receiver.kind === 'slack' ? receiver.slack.channel : undefined;
  };

  it.each([
    ['${CHANNEL}', { CHANNEL: '#ops' }, '#ops'],
    ['${CHANNEL:-#fallback}', {}, '#fallback'],
    ['${CHANNEL:-#fallback}', { CHANNEL: '' }, '#fallback'],
    ['${CHANNEL:-#fallback}', { CHANNEL: '#ops' }, '#ops'],
    ['#${TEAM}-${ENV:-prod}', { TEAM: 'db' }, '#db-prod'],
    ['$CHANNEL and ${not a reference}', { CHANNEL: '#ops' }, '$CHANNEL and ${not a reference}'],
  ])('%s with %j gives %j', (text, env, expected) => {
    expect(channelOf(text, env)).toBe(expected);
  });

  it('validates the interpolated value: a variable set to empty leaves an empty channel', () => {
    expect(errorOf(() => channelOf('${CHANNEL}', { CHANNEL: '' }))).toBe('routes.yaml:3:23: receivers[0].slack.channel: must not be empty');
  });

  it('never reads process.env', () => {
    process.env.ROUTING_TEST_ONLY_IN_PROCESS_ENV = '#leak';
    try {
      expect(errorOf(() => channelOf('${ROUTING_TEST_ONLY_IN_PROCESS_ENV}', {}))).toBe(
        'routes.yaml:3:23: receivers[0].slack.channel: environment variable ROUTING_TEST_ONLY_IN_PROCESS_ENV is not set and has no default (write ${ROUTING_TEST_ONLY_IN_PROCESS_ENV:-default})',
      );
    } finally {
      delete process.env.ROUTING_TEST_ONLY_IN_PROCESS_ENV;
    }
  });
});

describe('invalid routing files: one fixture per error, exact one-line message', () => {
  it.each([
    ['alias-bomb', '1:1: (yaml): Excessive alias count indicates a resource exhaustion attack'],
    [
      'bad-day-of-month',
      '9:25: time_intervals[0].time_intervals[0].days_of_month[0]: invalid day of month range "0:5" (expected 1 to 31, -1 for the last day, or a range such as 1:7)',
    ],
    ['bad-duration', '7:22: routes[0].repeat_interval: invalid duration "1 day" (expected a Prometheus duration such as 4h or 30m)'],
    ['bad-incident-by-label', '7:24: routes[0].incident_by[1]: expected a label name ([a-zA-Z_][a-zA-Z0-9_]*)'],
    ['duplicate-incident-by-label', '7:18: routes[0].incident_by: names a label twice'],
    ['empty-incident-by', '7:18: routes[0].incident_by: needs at least one label'],
    ['bad-resolve-hold', '7:19: routes[0].resolve_hold: invalid duration "soon" (expected a Prometheus duration such as 4h or 30m)'],
    ['zero-stale-after', '7:18: routes[0].stale_after: invalid duration "0s" (expected a Prometheus duration such as 4h or 30m)'],
    ['bad-email-address', '3:19: receivers[0].email.to[0]: expected an email address'],
    ['bad-email-from', '3:47: receivers[0].email.from: expected an email address, optionally with a display name: Name <address>'],
    ['bad-matcher', '6:16: routes[0].matchers[0]: cannot parse matcher \'severity critical\' (expected <label><op><value> such as severity="critical")'],
    [
      'bad-month',
      '9:18: time_intervals[0].time_intervals[0].months[0]: invalid month range "januar" (expected january or 1, or a range such as january:march)',
    ],
    ['bad-range-type', '9:17: time_intervals[0].time_intervals[0].years[0]: expected a string or a whole number'],
    ['bad-regex', '6:39: routes[0].matchers[1]: invalid regular expression "api-(latency" (Unterminated group)'],
    ['bad-time-of-day', '9:50: time_intervals[0].time_intervals[0].times[0].end_time: invalid time "25:00" (expected HH:MM between 00:00 and 24:00)'],
    ['bad-time-zone', '10:19: time_intervals[0].time_intervals[0].location: unknown time zone "Europe/Paaris" (expected an IANA name such as Europe/Paris)'],
    [
      'bad-weekday',
      '9:20: time_intervals[0].time_intervals[0].weekdays[0]: invalid weekday range "monday:fryday" (expected monday, or a range such as monday:friday)',
    ],
    [
      'doubled-operator',
      "6:16: routes[0].matchers[0]: cannot parse matcher 'severity==critical' (doubled operator; quote the value if it really starts with =)",
    ],
    ['duplicate-key', '5:1: (yaml): Map keys must be unique'],
    ['duplicate-receiver-name', '4:11: receivers[1].name: duplicate receiver name "ops-slack"'],
    ['duplicate-route-name', '7:11: routes[1].name: duplicate route name "pages"'],
    ['duplicate-time-interval-name', '10:11: time_intervals[1].name: duplicate time interval name "office-hours"'],
    ['empty-route-name', '5:11: routes[0].name: must not be empty'],
    ['empty-route-receivers', '6:16: routes[0].receivers: needs at least one receiver'],
    ['empty', '1:1: (root): the routing file is empty'],
    ['missing-default-receivers', '1:1: default_receivers: required key is missing'],
    ['missing-route-receivers', '5:5: routes[0].receivers: required key is missing'],
    [
      'negative-day-of-month-start',
      '9:25: time_intervals[0].time_intervals[0].days_of_month[0]: invalid day of month range "-3:5" (a negative start needs a negative end)',
    ],
    ['receiver-with-two-channels', '2:5: receivers[0]: receiver "ops-slack" needs exactly one channel (slack, email or pagerduty), it has slack and email'],
    ['receiver-without-channel', '2:5: receivers[0]: receiver "ops-slack" needs exactly one channel (slack, email or pagerduty), it has none'],
    ['reserved-route-name', '5:11: routes[0].name: route name "default" is reserved for default_receivers'],
    [
      'reversed-weekday-range',
      '9:20: time_intervals[0].time_intervals[0].weekdays[0]: invalid weekday range "friday:monday" (start is after end; weeks run from sunday to saturday, so write friday:saturday and sunday:monday)',
    ],
    ['reversed-year-range', '9:17: time_intervals[0].time_intervals[0].years[0]: invalid year range "2026:2024" (start is after end)'],
    ['start-time-after-end-time', '10:13: time_intervals[0].time_intervals[0].times[0]: start_time must be before end_time'],
    ['time-interval-without-ranges', '8:21: time_intervals[0].time_intervals: needs at least one time range'],
    ['undefined-active-time-interval', '7:29: routes[0].active_time_intervals[0]: undefined time interval "office-hours"'],
    ['undefined-default-receiver', '5:32: default_receivers[1]: undefined receiver "ops-pager"'],
    ['undefined-mute-time-interval', '7:27: routes[0].mute_time_intervals[0]: undefined time interval "weekends"'],
    ['undefined-receiver', '14:17: routes[1].receivers[0]: undefined receiver "ops-pager"'],
    ['unescaped-quote', '6:16: routes[0].matchers[0]: unescaped double quote in the value of matcher \'summary="say "hi""\''],
    ['unknown-channel-key', '3:42: receivers[0].slack.token: unknown key "token"'],
    ['unknown-route-key', '6:5: routes[0].matcher: unknown key "matcher"'],
    ['unknown-top-level-key', '6:1: group_by: unknown key "group_by"'],
    [
      'unset-env-variable',
      '3:23: receivers[0].slack.channel: environment variable SLACK_CHANNEL is not set and has no default (write ${SLACK_CHANNEL:-default})',
    ],
    ['wrong-type', '7:15: routes[0].continue: expected boolean, got string'],
    ['yaml-syntax', '7:5: (yaml): Flow sequence in block collection must be sufficiently indented and end with a ]'],
    ['zero-duration', '7:22: routes[0].repeat_interval: invalid duration "0s" (expected a Prometheus duration such as 4h or 30m)'],
  ])('%s', (name, expected) => {
    const file = fixture(`invalid/${name}.yaml`);
    expect(loadError(file)).toBe(`${file}:${expected}`);
  });

  it('a file that cannot be read', () => {
    const file = fixture('invalid/does-not-exist.yaml');
    expect(loadError(file)).toBe(`${file}: cannot read the routing file (ENOENT)`);
  });

  it('keeps a message on one line even when a value holds a newline', () => {
    const text =
      'receivers:\n  - name: a\n    slack: { channel: x }\nroutes:\n  - name: r\n    matchers: ["a=~\\"(\\n\\""]\n    receivers: [a]\ndefault_receivers: [a]\n';
    expect(errorOf(() => parseRoutingConfig(text, 'f.yaml', {}))).toBe(
      'f.yaml:6:16: routes[0].matchers[0]: invalid regular expression "(\\n" (Unterminated group)',
    );
  });
});
