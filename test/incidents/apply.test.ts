import { describe, expect, it } from 'vitest';
import type { NormalizedAlert } from '../../src/alerts/types.js';
import { type AlertCopy, type ApplyContext, applyAlerts, nextTickAt, tickIncident } from '../../src/incidents/apply.js';
import { incidentKeyOf } from '../../src/incidents/key.js';
import type { AlertMark, Incident } from '../../src/incidents/types.js';
import { parseRoutingConfig } from '../../src/routing/config.js';
import { routeAlert } from '../../src/routing/route.js';
import { alertFixture } from '../notifiers/helpers.js';

const config = parseRoutingConfig(
  `
receivers:
  - { name: pager, pagerduty: {} }
  - { name: ops-slack, slack: { channel: "#ops" } }
  - { name: ops-email, email: { to: [ops@maestro.example] } }
routes:
  - { name: pages, matchers: ['severity="critical"'], receivers: [pager, ops-slack] }
  - { name: warnings, matchers: ['severity="warning"'], receivers: [ops-email, ops-slack] }
default_receivers: [ops-slack]
`,
  'routes.yaml',
  {},
);

const T0 = Date.parse('2026-12-07T12:00:00Z');
const MIN = 60_000;
const HOLD = 5 * MIN;

/** The 6h warning tier, the 1h and 6h critical tiers of api-latency: one fingerprint each. */
const burnLabels = (severity: string, longWindow: string) => ({
  alertname: 'MaestroSLOErrorBudgetBurn',
  severity,
  slo: 'api-latency',
  service: 'maestro-api',
  long_window: longWindow,
});
const warning6h = (overrides: Partial<NormalizedAlert> = {}) =>
  alertFixture({
    fingerprint: 'w6h',
    alertname: 'MaestroSLOErrorBudgetBurn',
    severity: 'warning',
    longWindow: '6h',
    labels: burnLabels('warning', '6h'),
    ...overrides,
  });
const critical1h = (overrides: Partial<NormalizedAlert> = {}) =>
  alertFixture({
    fingerprint: 'c1h',
    alertname: 'MaestroSLOErrorBudgetBurn',
    severity: 'critical',
    longWindow: '1h',
    burnRate: 14.4,
    labels: burnLabels('critical', '1h'),
    ...overrides,
  });
const resolved = (alert: NormalizedAlert, endsAt = '2026-12-07T12:30:00Z') => ({ ...alert, status: 'resolved' as const, endsAt });

let ids = 0;
function context(now: number, alert: NormalizedAlert = warning6h(), resolveHoldMs = HOLD): ApplyContext {
  return {
    now,
    newId: () => `incident-${++ids}`,
    key: incidentKeyOf(alert, null),
    policy: { route: 'warnings', staleAfterMs: 60 * MIN, resolveHoldMs },
    route: (labels) => routeAlert(config, labels, new Date(now)).deliveries,
  };
}

const copy = (alert: NormalizedAlert, acceptedAt: number): AlertCopy => ({ alert, acceptedAt });

/** The alert marks the store keeps beside each incident, by incident id: what `known` is read from. */
const marksOf = new Map<string, Record<string, AlertMark>>();

/** `applyAlerts` as the store calls it: with the marks it holds for the copies' fingerprints in `current`, and keeping the written ones. */
function apply(current: Incident | null, copies: AlertCopy[], ctx: ApplyContext) {
  const held = current === null ? {} : (marksOf.get(current.id) ?? {});
  const known = Object.fromEntries(copies.flatMap(({ alert }) => (held[alert.fingerprint] ? [[alert.fingerprint, held[alert.fingerprint]!]] : [])));
  const applied = applyAlerts(current, known, copies, ctx);
  if (applied) marksOf.set(applied.incident.id, { ...(marksOf.get(applied.incident.id) ?? {}), ...applied.marks });
  return applied;
}

/** Applies copies in turn, as webhooks arriving at the given times would. */
function play(start: Incident | null, ...steps: Array<[number, NormalizedAlert[]]>): Incident | null {
  let incident = start;
  for (const [at, alerts] of steps) {
    const applied = apply(
      incident,
      alerts.map((alert) => copy(alert, at)),
      context(at),
    );
    if (applied) incident = applied.incident;
  }
  return incident;
}

const kinds = (result: ReturnType<typeof apply>) => result?.events.map((event) => event.kind);

describe('applyAlerts', () => {
  it('opens one incident on the first firing tier, routed as its severity routes', () => {
    const applied = apply(null, [copy(warning6h(), T0)], context(T0))!;
    expect(kinds(applied)).toEqual(['opened', 'tier_fired']);
    expect(applied.changed).toBe(true);
    const { incident } = applied;
    expect(incident).toMatchObject({ state: 'open', severity: 'warning', peakSeverity: 'warning', rev: 1, slo: 'api-latency' });
    expect(incident.keyLabels).toEqual({ alertname: 'MaestroSLOErrorBudgetBurn', slo: 'api-latency', service: 'maestro-api' });
    expect(Object.keys(incident.receivers).sort()).toEqual(['ops-email', 'ops-slack']);
    expect(incident.title).toBe('api-latency SLO: MaestroSLOErrorBudgetBurn (maestro-api)');
  });

  it('a resolve of nothing open opens nothing', () => {
    expect(apply(null, [copy(resolved(warning6h()), T0)], context(T0))).toBeNull();
  });

  it('a repeat changes nothing; a later copy of the same state only confirms the tier still fires', () => {
    const open = play(null, [T0, [warning6h()]])!;
    expect(apply(open, [copy(warning6h(), T0)], context(T0))).toBeNull();
    const confirmed = apply(open, [copy(warning6h(), T0 + MIN)], context(T0 + MIN))!;
    expect(confirmed.changed).toBe(false);
    expect(confirmed.events).toEqual([]);
    expect(confirmed.incident.rev).toBe(open.rev);
    expect(Object.values(confirmed.incident.tiers)[0]!.lastSeenAt).toBe(T0 + MIN);
  });

  it('newer figures from a later webhook change the incident; the same figures from an earlier one do not', () => {
    const open = play(null, [T0, [warning6h({ burnRate: 6 })]])!;
    const later = apply(open, [copy(warning6h({ burnRate: 9 }), T0 + MIN)], context(T0 + MIN))!;
    expect(later.changed).toBe(true);
    expect(Object.values(later.incident.tiers)[0]!.figures.burnRate).toBe(9);
    const late = apply(later.incident, [copy(warning6h({ burnRate: 6 }), T0 + 30_000)], context(T0 + 2 * MIN));
    expect(late?.changed ?? false).toBe(false);
    expect(Object.values((late?.incident ?? later.incident).tiers)[0]!.figures.burnRate).toBe(9);
  });

  it('escalates when a critical tier fires, and routes the page while keeping the receivers told before', () => {
    const open = play(null, [T0, [warning6h()]])!;
    const escalated = apply(open, [copy(critical1h(), T0 + MIN)], context(T0 + MIN))!;
    expect(kinds(escalated)).toEqual(['tier_fired', 'escalated']);
    expect(escalated.incident).toMatchObject({ id: open.id, severity: 'critical', peakSeverity: 'critical' });
    expect(escalated.incident.receivers).toMatchObject({
      pager: { routedNow: true, route: 'pages' },
      'ops-slack': { routedNow: true },
      'ops-email': { routedNow: false },
    });
  });

  it('de-escalates when the critical tier clears, and no receiver is forgotten', () => {
    const critical = play(null, [T0, [warning6h()]], [T0 + MIN, [critical1h()]])!;
    const back = apply(critical, [copy(resolved(critical1h()), T0 + 2 * MIN)], context(T0 + 2 * MIN))!;
    expect(kinds(back)).toEqual(['tier_cleared', 'de_escalated']);
    expect(back.incident).toMatchObject({ state: 'open', severity: 'warning', peakSeverity: 'critical' });
    expect(back.incident.receivers.pager).toMatchObject({ routedNow: false });
  });

  it('holds the resolve down; a tier firing again within the hold continues the incident (flapped)', () => {
    const open = play(null, [T0, [warning6h()]])!;
    const clearing = apply(open, [copy(resolved(warning6h()), T0 + MIN)], context(T0 + MIN))!;
    expect(kinds(clearing)).toEqual(['tier_cleared', 'resolving']);
    expect(clearing.incident).toMatchObject({ state: 'resolving', holdUntil: T0 + MIN + HOLD });
    expect(tickIncident(clearing.incident, T0 + MIN + HOLD - 1)).toBeNull();

    const refire = warning6h({ startsAt: '2026-12-07T12:02:00Z' });
    const flapped = apply(clearing.incident, [copy(refire, T0 + 2 * MIN)], context(T0 + 2 * MIN))!;
    expect(kinds(flapped)).toEqual(['tier_fired', 'flapped']);
    expect(flapped.incident).toMatchObject({ id: open.id, state: 'open', holdUntil: null });
  });

  it('resolves when the hold ends; a late firing copy then changes nothing, a new firing opens a new incident', () => {
    const open = play(null, [T0, [warning6h()]], [T0 + MIN, [resolved(warning6h())]])!;
    const done = tickIncident(open, T0 + MIN + HOLD)!;
    expect(kinds(done)).toEqual(['resolved']);
    expect(done.incident).toMatchObject({ state: 'resolved', resolvedAt: new Date(T0 + MIN).toISOString() });
    expect(done.events[0]).toMatchObject({ durationMs: MIN });

    // The firing copy of the episode that resolved, delivered late (an HA peer, a retry).
    expect(apply(done.incident, [copy(warning6h(), T0 + 10 * MIN)], context(T0 + 10 * MIN))).toBeNull();

    const again = apply(done.incident, [copy(warning6h({ startsAt: '2026-12-07T13:00:00Z' }), T0 + 60 * MIN)], context(T0 + 60 * MIN))!;
    expect(again.incident.id).not.toBe(open.id);
    expect(kinds(again)).toEqual(['opened', 'tier_fired']);
  });

  it('a copy older than what is known changes nothing, whatever the order of arrival', () => {
    const refired = play(null, [T0, [warning6h({ startsAt: '2026-12-07T12:10:00Z' })]])!;
    expect(apply(refired, [copy(resolved(warning6h({ startsAt: '2026-12-07T11:00:00Z' })), T0 + MIN)], context(T0 + MIN))).toBeNull();
  });

  it('resolves at once with resolve_hold 0', () => {
    const open = play(null, [T0, [warning6h()]])!;
    const applied = apply(open, [copy(resolved(warning6h()), T0 + MIN)], context(T0 + MIN, warning6h(), 0))!;
    expect(applied.incident.policy.resolveHoldMs).toBe(0);
    expect(kinds(applied)).toEqual(['tier_cleared', 'resolved']);
  });

  it('the tiers of many instances make one tier; it clears when the last of them does', () => {
    const alerts = ['a', 'b', 'c'].map((instance) => warning6h({ fingerprint: `w6h-${instance}`, labels: { ...warning6h().labels, instance } }));
    const open = play(null, [T0, alerts])!;
    expect(Object.keys(open.tiers)).toHaveLength(1);
    const two = play(open, [T0 + MIN, [resolved(alerts[0]!), resolved(alerts[1]!)]])!;
    expect(two.state).toBe('open');
    const none = play(two, [T0 + 2 * MIN, [resolved(alerts[2]!)]])!;
    expect(none.state).toBe('resolving');
  });

  it('an SLO-less alert is an incident of its own fingerprint', () => {
    const plain = alertFixture({ slo: null, fingerprint: 'f00', alertname: 'DiskFull', labels: { alertname: 'DiskFull' } });
    expect(incidentKeyOf(plain, null).labels).toEqual({ fingerprint: 'f00' });
    expect(incidentKeyOf(plain, ['alertname', 'tenant']).labels).toEqual({ alertname: 'DiskFull', tenant: '' });
  });
});

describe('tickIncident', () => {
  it('marks a tier stale when no copy confirmed it within stale_after, and a copy clears the mark', () => {
    const open = play(null, [T0, [warning6h()]])!;
    expect(nextTickAt(open)).toBe(T0 + 60 * MIN + 1);
    const stale = tickIncident(open, T0 + 61 * MIN)!;
    expect(kinds(stale)).toEqual(['tier_stale']);
    expect(stale.incident.state).toBe('open');
    expect(Object.values(stale.incident.tiers)[0]!.stale).toBe(true);
    expect(nextTickAt(stale.incident)).toBeNull();

    const confirmed = apply(stale.incident, [copy(warning6h(), T0 + 62 * MIN)], context(T0 + 62 * MIN))!;
    expect(confirmed.changed).toBe(true);
    expect(Object.values(confirmed.incident.tiers)[0]!.stale).toBe(false);
  });
});
