import { describe, expect, it } from 'vitest';
import { parseRoutingConfig } from '../../src/routing/config.js';
import { explainRoute, routeAlert } from '../../src/routing/route.js';

const config = parseRoutingConfig(
  `
receivers:
  - { name: pager, pagerduty: {} }
  - { name: dba-email, email: { to: [dba@maestro.example] } }
  - { name: ops-email, email: { to: [ops@maestro.example] } }
  - { name: ops-slack, slack: { channel: "#ops" } }
time_intervals:
  - name: maintenance          # Sundays 02:00-04:00 UTC
    time_intervals: [{ weekdays: [sunday], times: [{ start_time: '02:00', end_time: '04:00' }] }]
  - name: office-hours         # weekdays 09:00-18:00 in Paris
    time_intervals: [{ weekdays: ['monday:friday'], times: [{ start_time: '09:00', end_time: '18:00' }], location: Europe/Paris }]
routes:
  - name: database-copy        # copies database alerts to the DBAs, then goes on
    matchers: ['slo=~"database-.*"']
    receivers: [dba-email]
    continue: true
    repeat_interval: 1h
  - name: pages
    matchers: ['severity="critical"']
    receivers: [pager]
    mute_time_intervals: [maintenance]
  - name: working-hours-tickets
    matchers: ['severity="warning"']
    receivers: [ops-email, ops-slack]
    active_time_intervals: [office-hours]
  - name: all-warnings         # never reached by warnings: the route above ends the walk, muted or not
    matchers: ['severity="warning"']
    receivers: [ops-slack]
default_receivers: [ops-slack]
`,
  'routes.yaml',
  {},
);

const MONDAY_NOON_PARIS = new Date('2025-01-06T11:00:00Z');
const MONDAY_NIGHT_PARIS = new Date('2025-01-06T22:00:00Z');
const SUNDAY_MAINTENANCE = new Date('2025-01-05T03:00:00Z');
const DAY = 86_400_000;

describe('routeAlert', () => {
  it.each<{ name: string; labels: Record<string, string>; at: Date; routes: string[]; deliveries: Array<[string, string, number]> }>([
    {
      name: 'first match wins',
      labels: { severity: 'critical', slo: 'api-latency' },
      at: MONDAY_NOON_PARIS,
      routes: ['pages'],
      deliveries: [['pages', 'pager', DAY]],
    },
    {
      name: 'continue: the walk goes on after a match',
      labels: { severity: 'critical', slo: 'database-availability' },
      at: MONDAY_NOON_PARIS,
      routes: ['database-copy', 'pages'],
      deliveries: [
        ['database-copy', 'dba-email', 3_600_000],
        ['pages', 'pager', DAY],
      ],
    },
    {
      name: 'one route, several receivers, in order',
      labels: { severity: 'warning' },
      at: MONDAY_NOON_PARIS,
      routes: ['working-hours-tickets'],
      deliveries: [
        ['working-hours-tickets', 'ops-email', DAY],
        ['working-hours-tickets', 'ops-slack', DAY],
      ],
    },
    {
      name: 'muted outside its active interval: no delivery, and the walk still stops',
      labels: { severity: 'warning' },
      at: MONDAY_NIGHT_PARIS,
      routes: ['working-hours-tickets'],
      deliveries: [],
    },
    {
      name: 'muted by a mute interval',
      labels: { severity: 'critical' },
      at: SUNDAY_MAINTENANCE,
      routes: ['pages'],
      deliveries: [],
    },
    {
      name: 'a muted route with continue does not stop the walk; other matches still deliver',
      labels: { severity: 'critical', slo: 'database-availability' },
      at: SUNDAY_MAINTENANCE,
      routes: ['database-copy', 'pages'],
      deliveries: [['database-copy', 'dba-email', 3_600_000]],
    },
  ])('$name', ({ labels, at, routes, deliveries }) => {
    const decision = routeAlert(config, labels, at);
    expect(decision.usedDefault).toBe(false);
    expect(decision.matches.map((match) => match.route)).toEqual(routes);
    expect(decision.deliveries.map((d) => [d.route, d.receiver, d.repeatIntervalMs])).toEqual(deliveries);
  });

  it('sends an alert no route matches to the default receivers', () => {
    expect(routeAlert(config, { severity: 'info' }, MONDAY_NOON_PARIS)).toEqual({
      matches: [],
      usedDefault: true,
      deliveries: [{ route: 'default', receiver: 'ops-slack', repeatIntervalMs: DAY }],
      incident: { route: 'default', incidentBy: null, staleAfterMs: 8 * 3_600_000, resolveHoldMs: 5 * 60_000 },
    });
  });

  it("keys and holds incidents by the first matched route's settings, muted or not", () => {
    const settings = parseRoutingConfig(
      `
receivers: [{ name: ops-slack, slack: { channel: "#ops" } }]
time_intervals: [{ name: always, time_intervals: [{ weekdays: ['sunday:saturday'] }] }]
routes:
  - { name: tenants, matchers: ['tenant=~".+"'], receivers: [ops-slack], incident_by: [slo, tenant], resolve_hold: 0s, stale_after: 1h, mute_time_intervals: [always], continue: true }
  - { name: rest, receivers: [ops-slack] }
default_receivers: [ops-slack]
`,
      'routes.yaml',
      {},
    );
    expect(routeAlert(settings, { tenant: 'acme' }, MONDAY_NOON_PARIS).incident).toEqual({
      route: 'tenants',
      incidentBy: ['slo', 'tenant'],
      staleAfterMs: 3_600_000,
      resolveHoldMs: 0,
    });
    expect(routeAlert(settings, {}, MONDAY_NOON_PARIS).incident).toMatchObject({ route: 'rest', incidentBy: null });
  });

  it('says why a match is muted', () => {
    expect(routeAlert(config, { severity: 'warning' }, MONDAY_NIGHT_PARIS).matches).toEqual([
      {
        route: 'working-hours-tickets',
        receivers: ['ops-email', 'ops-slack'],
        repeatIntervalMs: DAY,
        mutedBy: { kind: 'outside_active_time_intervals', intervals: ['office-hours'] },
        incident: { incidentBy: null, staleAfterMs: 8 * 3_600_000, resolveHoldMs: 5 * 60_000 },
      },
    ]);
    expect(routeAlert(config, { severity: 'critical' }, SUNDAY_MAINTENANCE).matches[0]!.mutedBy).toEqual({
      kind: 'mute_time_interval',
      interval: 'maintenance',
    });
  });

  it('treats a route without matchers as a catch-all', () => {
    const catchAll = parseRoutingConfig(
      'receivers: [{ name: a, slack: { channel: "#a" } }]\nroutes: [{ name: everything, receivers: [a] }]\ndefault_receivers: [a]\n',
      'routes.yaml',
      {},
    );
    expect(routeAlert(catchAll, {}, MONDAY_NOON_PARIS).deliveries).toEqual([{ route: 'everything', receiver: 'a', repeatIntervalMs: DAY }]);
  });
});

describe('explainRoute', () => {
  it('gives each route its verdict: failed matcher with the value seen, mute reason, not reached', () => {
    const explanation = explainRoute(config, { severity: 'warning', slo: 'api-latency' }, MONDAY_NIGHT_PARIS);
    expect(explanation.verdicts).toEqual([
      { route: 'database-copy', outcome: 'not_matched', failedMatcher: 'slo=~"database-.*"', labelValue: 'api-latency' },
      { route: 'pages', outcome: 'not_matched', failedMatcher: 'severity="critical"', labelValue: 'warning' },
      {
        route: 'working-hours-tickets',
        outcome: 'muted',
        mutedBy: { kind: 'outside_active_time_intervals', intervals: ['office-hours'] },
      },
      { route: 'all-warnings', outcome: 'not_reached', stoppedAt: 'working-hours-tickets' },
    ]);
    expect(explanation.decision).toEqual(routeAlert(config, { severity: 'warning', slo: 'api-latency' }, MONDAY_NIGHT_PARIS));
  });

  it('reports a missing label as null', () => {
    const [first] = explainRoute(config, { severity: 'critical' }, MONDAY_NOON_PARIS).verdicts;
    expect(first).toEqual({ route: 'database-copy', outcome: 'not_matched', failedMatcher: 'slo=~"database-.*"', labelValue: null });
  });

  it('lists the receivers of a matched route', () => {
    const verdicts = explainRoute(config, { severity: 'critical', slo: 'database-availability' }, MONDAY_NOON_PARIS).verdicts;
    expect(verdicts.slice(0, 2)).toEqual([
      { route: 'database-copy', outcome: 'matched', receivers: ['dba-email'] },
      { route: 'pages', outcome: 'matched', receivers: ['pager'] },
    ]);
  });
});
