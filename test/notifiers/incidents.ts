import { figuresDigest } from '../../src/incidents/figures.js';
import type { Incident, SyncDecision, Tier, TierFigures, Told } from '../../src/incidents/types.js';
import type { IncidentNotifier, SyncContext, SyncResult } from '../../src/notifiers/types.js';
import { NEVER_ABORTED } from './helpers.js';

/**
 * Hand-built incidents as the incident core would hold them: the api-latency SLO of maestro-api
 * (99.5% over 30d) burning, the way the shipped rules fire on a database losing requests.
 */
export const T0 = Date.parse('2026-11-27T10:00:00Z');
export const at = (minutes: number): number => T0 + minutes * 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

export function tierFigures(overrides: Partial<TierFigures> = {}): TierFigures {
  return {
    burnRate: 6.9,
    burnRateShort: 7.2,
    burnRateLong: 6.9,
    burnRateThreshold: 6,
    budgetRemaining: 0.97,
    budgetConsumed: 0.0575,
    timeToExhaustionSeconds: null,
    figuresSource: 'observed',
    longWindow: '6h',
    shortWindow: '30m',
    ...overrides,
  };
}

const LABELS = { alertname: 'MaestroSLOBurnRate', slo: 'api-latency', service: 'maestro-api' };

/** The warning tier (6x over 6h, short window 30m), firing since T0. */
export function warningTier(overrides: Partial<Tier> = {}, figures: Partial<TierFigures> = {}): Tier {
  return {
    id: 'MaestroSLOBurnRate/warning/6h',
    alertname: 'MaestroSLOBurnRate',
    severity: 'warning',
    firing: true,
    firingAlerts: 1,
    stale: false,
    firingSince: iso(T0),
    clearedAt: null,
    lastSeenAt: T0,
    figuresAt: T0,
    figures: tierFigures(figures),
    summary: 'api-latency is burning its 30d error budget too fast',
    description: 'Latency SLO of maestro-api: 99.5% of API requests complete within 200 ms.',
    labels: { ...LABELS, severity: 'warning', long_window: '6h' },
    ...overrides,
  };
}

/** The critical tier (14.4x over 1h, short window 5m), firing since T0 + 40 min. */
export function criticalTier(overrides: Partial<Tier> = {}, figures: Partial<TierFigures> = {}): Tier {
  return {
    id: 'MaestroSLOBurnRate/critical/1h',
    alertname: 'MaestroSLOBurnRate',
    severity: 'critical',
    firing: true,
    firingAlerts: 1,
    stale: false,
    firingSince: iso(at(40)),
    clearedAt: null,
    lastSeenAt: at(40),
    figuresAt: at(40),
    figures: tierFigures({
      burnRate: 20.1,
      burnRateShort: 94,
      burnRateLong: 20.1,
      burnRateThreshold: 14.4,
      budgetRemaining: 0.95,
      longWindow: '1h',
      shortWindow: '5m',
      ...figures,
    }),
    summary: 'api-latency is burning its 30d error budget too fast',
    description: 'Latency SLO of maestro-api: 99.5% of API requests complete within 200 ms.',
    labels: { ...LABELS, severity: 'critical', long_window: '1h' },
    ...overrides,
  };
}

export function incident(overrides: Partial<Incident> = {}): Incident {
  return {
    id: 'inc-api-latency-7f3a9c',
    key: 'k-7f3a9c',
    keyLabels: { ...LABELS },
    rev: 1,
    state: 'open',
    title: 'api-latency SLO',
    alertname: 'MaestroSLOBurnRate',
    slo: 'api-latency',
    service: 'maestro-api',
    objective: 99.5,
    period: '30d',
    periodSeconds: 2_592_000,
    sloDescription: '99.5% of API requests complete within 200 ms',
    severity: 'warning',
    peakSeverity: 'warning',
    openedAt: iso(T0),
    changedAt: iso(T0),
    resolvingSince: null,
    holdUntil: null,
    resolvedAt: null,
    peakBurnRate: 7.2,
    budgetRemainingAtOpen: 0.97,
    budgetRemainingAtResolve: null,
    tiers: { [warningTier().id]: warningTier() },
    receivers: {},
    policy: { route: 'slo-alerts', staleAfterMs: 8 * 3_600_000, resolveHoldMs: 300_000 },
    links: {
      runbookUrl: 'https://runbooks.maestro.example/slo-api-latency',
      dashboardUrl: 'https://grafana.maestro.example/d/maestro-slo?var-slo=api-latency',
      generatorUrl: 'http://prometheus.example:9090/graph?g0.expr=slo%3Aburn_rate',
      alertmanagerUrl: 'http://alertmanager.example:9093/',
    },
    acknowledged: null,
    silenced: null,
    ...overrides,
  };
}

export interface Step {
  name: string;
  decision: Exclude<SyncDecision, 'up_to_date' | 'not_routed'>;
  now: number;
  incident: Incident;
}

/**
 * One SLO escalating and back, as the sync would see it: the warning tier fires; the critical tier
 * fires (escalated); it clears (de-escalated); the figures move; a repeat interval later a reminder;
 * every tier clears and, after the hold-down, the incident resolves.
 */
export function escalationStory(): Step[] {
  const warning = warningTier();
  const critical = criticalTier();
  const criticalCleared = criticalTier({ firing: false, clearedAt: iso(at(70)) });
  const warningLater = warningTier({ figuresAt: at(80), lastSeenAt: at(80) }, { burnRateShort: 8.5, burnRateLong: 7.4, budgetRemaining: 0.93 });
  const warningCleared = warningTier(
    { firing: false, clearedAt: iso(at(265)), figuresAt: at(260), lastSeenAt: at(260) },
    { burnRateShort: 6.1, burnRateLong: 6.2, budgetRemaining: 0.91 },
  );
  const both = (w: Tier, c: Tier) => ({ [w.id]: w, [c.id]: c });
  /** Back to warning after the critical tier cleared, with the warning's later figures. */
  const deEscalatedLater = () =>
    incident({
      rev: 4,
      severity: 'warning',
      peakSeverity: 'critical',
      peakBurnRate: 94,
      changedAt: iso(at(80)),
      tiers: both(warningLater, criticalCleared),
    });
  return [
    { name: 'first', decision: 'first_notification', now: at(1), incident: incident({ rev: 1, tiers: { [warning.id]: warning } }) },
    {
      name: 'escalated',
      decision: 'escalated',
      now: at(41),
      incident: incident({ rev: 2, severity: 'critical', peakSeverity: 'critical', peakBurnRate: 94, changedAt: iso(at(40)), tiers: both(warning, critical) }),
    },
    {
      name: 'de_escalated',
      decision: 'de_escalated',
      now: at(71),
      incident: incident({
        rev: 3,
        severity: 'warning',
        peakSeverity: 'critical',
        peakBurnRate: 94,
        changedAt: iso(at(70)),
        tiers: both(warning, criticalCleared),
      }),
    },
    {
      name: 'figures_changed',
      decision: 'figures_changed',
      now: at(81),
      incident: deEscalatedLater(),
    },
    {
      name: 'reminder',
      decision: 'reminder_due',
      now: at(241),
      incident: deEscalatedLater(),
    },
    {
      name: 'resolved',
      decision: 'resolved',
      now: at(271),
      incident: incident({
        rev: 7,
        state: 'resolved',
        severity: 'warning',
        peakSeverity: 'critical',
        peakBurnRate: 94,
        changedAt: iso(at(270)),
        resolvingSince: iso(at(265)),
        holdUntil: at(270),
        resolvedAt: iso(at(270)),
        budgetRemainingAtResolve: 0.91,
        tiers: both(warningCleared, criticalCleared),
      }),
    },
  ];
}

/** What the sync hands a channel for `step`, to a receiver told nothing yet unless `told` says otherwise. */
export function contextOf(step: Step, options: { receiver?: string; told?: Told | null; uncertain?: boolean } = {}): SyncContext {
  const { receiver = 'team-api', told = null, uncertain = false } = options;
  return { receiver, incident: step.incident, told, decision: step.decision, uncertain, now: step.now };
}

/**
 * Plays the sync stage's part for one (incident, receiver): skips what the channel has no interest
 * in, calls notify with what the receiver was told, and writes the notification log as the sync
 * would, the receipt merged.
 */
export class Teller {
  told: Told | null = null;

  constructor(
    readonly notifier: IncidentNotifier,
    readonly receiver: string,
  ) {}

  async tell(step: Step, options: { uncertain?: boolean; signal?: AbortSignal } = {}): Promise<SyncResult | null> {
    if (!this.notifier.interests.has(step.decision)) return null;
    const result = await this.notifier.notify(this.context(step, options.uncertain ?? false), options.signal ?? NEVER_ABORTED);
    this.record(step, result);
    return result;
  }

  context(step: Step, uncertain = false): SyncContext {
    return contextOf(step, { receiver: this.receiver, told: this.told, uncertain });
  }

  record(step: Step, result: SyncResult): void {
    const { incident, now } = step;
    this.told = {
      rev: incident.rev,
      state: incident.state,
      severity: incident.severity,
      figures: figuresDigest(incident),
      acknowledged: incident.acknowledged !== null,
      firstAt: this.told?.firstAt ?? now,
      lastAt: now,
      receipt: { ...this.told?.receipt, ...result.receipt },
      sent: (this.told?.sent ?? 0) + 1,
    };
  }
}

/** The hostile variant of the story's first step: untrusted text in every label and annotation that reaches a channel. */
export function hostileIncident(text: { slo: string; summary: string; description: string; labels: Record<string, string>; service?: string }): Incident {
  const tier = warningTier({ summary: text.summary, description: text.description, labels: { ...text.labels } });
  return incident({
    slo: text.slo,
    service: text.service ?? 'maestro-api',
    keyLabels: { alertname: 'MaestroSLOBurnRate', slo: text.slo },
    tiers: { [tier.id]: tier },
  });
}
