import { describe, expect, it } from 'vitest';
import { figuresDigest } from '../../src/incidents/figures.js';
import type { Incident, SyncDecision, Told } from '../../src/incidents/types.js';
import { needsUpdate, reminderDueAt } from '../../src/sync/decide.js';

const ALL: ReadonlySet<SyncDecision> = new Set(['first_notification', 'escalated', 'de_escalated', 'figures_changed', 'resolved', 'reminder_due']);
const EMAIL: ReadonlySet<SyncDecision> = new Set(['first_notification', 'escalated', 'de_escalated', 'resolved', 'reminder_due']);
const HOUR = 3_600_000;

function incident(overrides: Partial<Incident> = {}): Incident {
  return {
    id: 'i1',
    key: 'k',
    keyLabels: {},
    rev: 3,
    state: 'open',
    title: 't',
    alertname: 'a',
    slo: 'api-latency',
    service: 's',
    objective: 99.5,
    period: '30d',
    periodSeconds: 2_592_000,
    sloDescription: null,
    severity: 'warning',
    peakSeverity: 'warning',
    openedAt: '2026-12-07T12:00:00Z',
    changedAt: '2026-12-07T12:00:00Z',
    resolvingSince: null,
    holdUntil: null,
    resolvedAt: null,
    peakBurnRate: null,
    budgetRemainingAtOpen: null,
    budgetRemainingAtResolve: null,
    tiers: {},
    receivers: { slack: { route: 'warnings', repeatIntervalMs: 4 * HOUR, routedNow: true } },
    policy: { route: 'warnings', staleAfterMs: 8 * HOUR, resolveHoldMs: 0 },
    links: { runbookUrl: null, dashboardUrl: null, generatorUrl: null, alertmanagerUrl: null },
    acknowledged: null,
    silenced: null,
    ...overrides,
  };
}

const toldOf = (of: Incident, lastAt = 0): Told => ({
  rev: of.rev,
  state: of.state,
  severity: of.severity,
  figures: figuresDigest(of),
  acknowledged: false,
  firstAt: lastAt,
  lastAt,
  receipt: {},
  sent: 1,
});

describe('needsUpdate', () => {
  const now = 10 * HOUR;
  it.each([
    ['never told, routed now', incident(), null, ALL, 'first_notification'],
    ['never told, not routed now', incident({ receivers: { slack: { route: 'r', repeatIntervalMs: HOUR, routedNow: false } } }), null, ALL, 'not_routed'],
    ['never told, unknown receiver', incident({ receivers: {} }), null, ALL, 'not_routed'],
    ['never told and already resolved', incident({ state: 'resolved' }), null, ALL, 'up_to_date'],
    ['never told, cleared in its hold-down', incident({ state: 'resolving' }), null, ALL, 'up_to_date'],
    ['told this state', incident(), toldOf(incident(), now), ALL, 'up_to_date'],
    ['escalated', incident({ severity: 'critical' }), toldOf(incident(), now), ALL, 'escalated'],
    ['de-escalated', incident(), toldOf(incident({ severity: 'critical' }), now), ALL, 'de_escalated'],
    ['resolved', incident({ state: 'resolved' }), toldOf(incident(), now), ALL, 'resolved'],
    ['told resolved: final', incident({ state: 'resolved', severity: 'critical' }), toldOf(incident({ state: 'resolved' }), now), ALL, 'up_to_date'],
    ['figures changed', incident({ state: 'resolving' }), toldOf(incident(), now), ALL, 'figures_changed'],
    ['figures changed, channel ignores figures', incident({ state: 'resolving' }), toldOf(incident(), now), EMAIL, 'up_to_date'],
    ['reminder due', incident(), toldOf(incident(), now - 4 * HOUR), ALL, 'reminder_due'],
    ['reminder not yet due', incident(), toldOf(incident(), now - 4 * HOUR + 1), ALL, 'up_to_date'],
    ['a channel without reminders', incident(), toldOf(incident(), 0), new Set<SyncDecision>(['first_notification']), 'up_to_date'],
  ] as const)('%s', (_name, current, told, interests, expected) => {
    expect(needsUpdate(current, 'slack', told, { now, interests })).toBe(expected);
  });

  it('a stale sync decides from the state as it is now, never from the state that queued it', () => {
    const resolved = incident({ state: 'resolved', rev: 9 });
    // Queued for the first notification, run after the resolve: nothing is sent, no trigger after the resolve.
    expect(needsUpdate(resolved, 'slack', null, { now, interests: ALL })).toBe('up_to_date');
  });
});

describe('reminderDueAt', () => {
  it('is one repeat interval after the last notification, and never once resolved', () => {
    expect(reminderDueAt(incident(), 'slack', toldOf(incident(), 100))).toBe(100 + 4 * HOUR);
    expect(reminderDueAt(incident({ state: 'resolved' }), 'slack', toldOf(incident(), 100))).toBeNull();
  });
});
