import { routingLabels } from '../alerts/normalize.js';
import type { NormalizedAlert, Severity } from '../alerts/types.js';
import type { RoutedDelivery } from '../routing/types.js';
import type { IncidentKey } from './key.js';
import type { AlertMark, Incident, IncidentPolicy, IncidentReceiver, Tier, TierFigures, TimelineEvent } from './types.js';

/** One alert of a webhook, with the time the router accepted that webhook. */
export interface AlertCopy {
  alert: NormalizedAlert;
  /** Epoch ms of the webhook's 202: of two copies of the same alert state, the later one has the newer figures. */
  acceptedAt: number;
}

export interface ApplyContext {
  now: number;
  /** A fresh incident id, for when the copies open a new incident. */
  newId: () => string;
  key: IncidentKey;
  policy: IncidentPolicy;
  /** Where the incident's labels route now (routeAlert's deliveries). */
  route: (labels: Record<string, string>) => RoutedDelivery[];
}

/**
 * The result of applying copies or time to an incident:
 * - `changed`: a change receivers may need to hear about (the rev went up; events say what);
 *   otherwise only bookkeeping moved (a repeat confirmed a tier still fires): write, tell nobody;
 * - `marks`: the alert marks to write beside the document (new or newer states only).
 */
export interface Applied {
  incident: Incident;
  events: TimelineEvent[];
  changed: boolean;
  marks: Record<string, AlertMark>;
}

/** The marks the store holds for the fingerprints of a batch, in the key's latest incident. */
export type KnownMarks = Readonly<Record<string, AlertMark>>;

const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

export const higherSeverity = (a: Severity, b: Severity): Severity => (SEVERITY_RANK[a] >= SEVERITY_RANK[b] ? a : b);

/**
 * Orders the states of one alert: a later start is newer, and at the same start resolved is newer
 * than firing, so a late firing copy never undoes its resolve. Exact in a double.
 */
export function alertVersion(alert: Pick<NormalizedAlert, 'startsAt' | 'status'>): number {
  return 2 * Date.parse(alert.startsAt) + (alert.status === 'resolved' ? 1 : 0);
}

/** One tier per alertname, severity and long window: the same burn tier across instances. */
export function tierIdOf(alert: NormalizedAlert): string {
  return [alert.alertname, alert.severity, alert.longWindow ?? ''].join('/');
}

/**
 * Applies a webhook's copies of the alerts of one incident key to `current` (the key's latest
 * incident, or null), given the marks `known` of their fingerprints in it. Idempotent and
 * order-safe: a repeat, an HA copy or another replica's copy changes nothing, and a copy older than
 * what is known (an earlier startsAt, a firing copy after that firing's resolve) changes nothing.
 * Returns null when nothing is to be written.
 */
export function applyAlerts(current: Incident | null, known: KnownMarks, copies: readonly AlertCopy[], ctx: ApplyContext): Applied | null {
  const isNewer = (alert: NormalizedAlert) => known[alert.fingerprint] === undefined || alertVersion(alert) > known[alert.fingerprint]!.version;
  const fresh = copies.filter(({ alert }) => isNewer(alert) || sameStateNewerFigures(current, known, alert, copies));
  let incident: Incident;
  const events: TimelineEvent[] = [];
  // The marks that count towards this incident's tiers: none yet when it opens.
  let marks: Record<string, AlertMark>;
  if (current === null || current.state === 'resolved') {
    // Only a firing alert opens an incident; a resolve of something not open says nothing new.
    const opener = newestFiring(fresh.filter(({ alert }) => isNewer(alert)));
    if (opener === undefined) return null;
    incident = openIncident(opener, ctx);
    events.push({ at: iso(ctx.now), kind: 'opened', severity: opener.alert.severity });
    marks = {};
  } else {
    incident = structuredClone(current);
    marks = { ...known };
  }
  incident.policy = ctx.policy;
  const before = snapshot(incident);
  const written: Record<string, AlertMark> = {};
  // Versions computed once: a storm's merged batch sorts hundreds of copies, and each version parses a date.
  const ordered = fresh.map((copy) => ({ copy, version: alertVersion(copy.alert) }));
  ordered.sort((a, b) => a.version - b.version || a.copy.acceptedAt - b.copy.acceptedAt);
  for (const { copy } of ordered) {
    const mark = recordCopy(incident, marks[copy.alert.fingerprint], copy);
    marks[copy.alert.fingerprint] = written[copy.alert.fingerprint] = mark;
  }
  const touched = confirmFiring(incident, marks, copies) || Object.keys(written).length > 0;
  settleTiers(incident, before, ctx.now, events);
  settleState(incident, before, ctx.now, events);
  routeIncident(incident, ctx);
  const changed = events.length > 0 || snapshot(incident) !== before || current === null || current.state === 'resolved';
  if (!changed && !touched) return null;
  if (changed) {
    incident.rev += 1;
    incident.changedAt = iso(ctx.now);
  }
  return { incident, events, changed, marks: written };
}

/**
 * What time does to an incident: a `resolving` incident whose hold-down passed resolves, and a
 * firing tier no copy confirmed within `stale_after` is marked stale (shown, not resolved:
 * Alertmanager sends no resolve for an alert muted when it resolved). Null when nothing changed.
 */
export function tickIncident(current: Incident, now: number): Applied | null {
  if (current.state === 'resolved') return null;
  const incident = structuredClone(current);
  const events: TimelineEvent[] = [];
  for (const tier of Object.values(incident.tiers)) {
    if (tier.firing && !tier.stale && now - tier.lastSeenAt > incident.policy.staleAfterMs) {
      tier.stale = true;
      events.push({ at: iso(now), kind: 'tier_stale', tier: tier.id, severity: tier.severity });
    }
  }
  if (incident.state === 'resolving' && incident.holdUntil !== null && now >= incident.holdUntil) resolve(incident, events);
  if (events.length === 0) return null;
  incident.rev += 1;
  incident.changedAt = iso(now);
  return { incident, events, changed: true, marks: {} };
}

/** When time next changes the incident (a hold-down ends, a tier goes stale); null for never. */
export function nextTickAt(incident: Incident): number | null {
  if (incident.state === 'resolved') return null;
  const times = Object.values(incident.tiers)
    .filter((tier) => tier.firing && !tier.stale)
    .map((tier) => tier.lastSeenAt + incident.policy.staleAfterMs + 1);
  if (incident.state === 'resolving' && incident.holdUntil !== null) times.push(incident.holdUntil);
  return times.length === 0 ? null : Math.min(...times);
}

/**
 * The alerts of an incident that Alertmanager no longer lists (they resolved while silenced, and a
 * silenced alert's resolve never reaches the webhook): each firing one of `marks` (all the
 * incident's) not in `stillFiring` becomes resolved, as its resolve would have made it, and the
 * incident settles (hold-down, resolve). Null when nothing changed.
 */
export function clearAlerts(current: Incident, marks: KnownMarks, stillFiring: ReadonlySet<string>, now: number): Applied | null {
  if (current.state === 'resolved') return null;
  const gone = Object.entries(marks).filter(([fingerprint, mark]) => mark.status === 'firing' && !stillFiring.has(fingerprint));
  if (gone.length === 0) return null;
  const incident = structuredClone(current);
  const before = snapshot(incident);
  const events: TimelineEvent[] = [
    { at: iso(now), kind: 'alertmanager_checked', resolved: gone.map(([fingerprint]) => fingerprint), firing: stillFiring.size },
  ];
  const written: Record<string, AlertMark> = {};
  for (const [fingerprint, mark] of gone) {
    written[fingerprint] = { ...mark, status: 'resolved', version: mark.version + 1 };
    const tier = incident.tiers[mark.tier];
    if (tier) tier.firingAlerts = Math.max(0, tier.firingAlerts - 1);
  }
  settleTiers(incident, before, now, events);
  settleState(incident, before, now, events);
  incident.rev += 1;
  incident.changedAt = iso(now);
  return { incident, events, changed: true, marks: written };
}

/** The same alert state again, from a later webhook whose figures differ (a repeat re-renders the annotations). */
function sameStateNewerFigures(incident: Incident | null, known: KnownMarks, alert: NormalizedAlert, copies: readonly AlertCopy[]): boolean {
  const mark = known[alert.fingerprint];
  if (incident === null || incident.state === 'resolved' || mark === undefined || alert.status !== 'firing') return false;
  if (alertVersion(alert) !== mark.version) return false;
  const tier = incident.tiers[mark.tier];
  const copy = copies.find((candidate) => candidate.alert === alert)!;
  return tier !== undefined && copy.acceptedAt > tier.figuresAt && JSON.stringify(figuresOf(alert)) !== JSON.stringify(tier.figures);
}

function newestFiring(copies: readonly AlertCopy[]): AlertCopy | undefined {
  return copies
    .filter(({ alert }) => alert.status === 'firing')
    .sort((a, b) => SEVERITY_RANK[b.alert.severity] - SEVERITY_RANK[a.alert.severity] || b.acceptedAt - a.acceptedAt)[0];
}

function openIncident({ alert }: AlertCopy, ctx: ApplyContext): Incident {
  const at = iso(ctx.now);
  return {
    id: ctx.newId(),
    key: ctx.key.key,
    keyLabels: ctx.key.labels,
    rev: 0,
    state: 'open',
    title: titleOf(alert),
    alertname: alert.alertname,
    slo: alert.slo,
    service: alert.service,
    objective: alert.objective,
    period: alert.period,
    periodSeconds: alert.periodSeconds,
    sloDescription: alert.sloDescription,
    severity: alert.severity,
    peakSeverity: alert.severity,
    openedAt: at,
    changedAt: at,
    resolvingSince: null,
    holdUntil: null,
    resolvedAt: null,
    peakBurnRate: null,
    budgetRemainingAtOpen: alert.budgetRemaining,
    budgetRemainingAtResolve: null,
    tiers: {},
    receivers: {},
    policy: ctx.policy,
    links: {
      runbookUrl: alert.runbookUrl,
      dashboardUrl: alert.dashboardUrl,
      generatorUrl: alert.generatorUrl,
      alertmanagerUrl: alert.externalUrl === '' ? null : alert.externalUrl,
    },
    acknowledged: null,
    silenced: null,
    pagerdutyResolved: null,
    lastEscalatedAt: null,
  };
}

/** One subject for the incident's whole life (mail clients thread by it): no severity, no figures. */
function titleOf(alert: NormalizedAlert): string {
  const where = alert.service === null ? '' : ` (${alert.service})`;
  if (alert.slo !== null) return `${alert.slo} SLO: ${alert.alertname}${where}`;
  return `${alert.alertname || 'Alert'}${where}`;
}

/** Records one newer copy in its tier (firing count, figures, text); returns its new mark. */
function recordCopy(incident: Incident, previous: AlertMark | undefined, { alert, acceptedAt }: AlertCopy): AlertMark {
  const tierId = tierIdOf(alert);
  const mark: AlertMark = { tier: tierId, status: alert.status, version: alertVersion(alert), startsAt: alert.startsAt };
  incident.tiers[tierId] ??= {
    id: tierId,
    alertname: alert.alertname,
    severity: alert.severity,
    firing: false,
    firingAlerts: 0,
    stale: false,
    firingSince: null,
    clearedAt: null,
    lastSeenAt: acceptedAt,
    figuresAt: 0,
    figures: figuresOf(alert),
    summary: alert.summary,
    description: alert.description,
    labels: routingLabels(alert),
  };
  const tier = incident.tiers[tierId];
  if (previous?.status === 'firing') {
    const before = incident.tiers[previous.tier];
    if (before) before.firingAlerts = Math.max(0, before.firingAlerts - 1);
  }
  if (alert.status === 'firing') tier.firingAlerts += 1;
  if (alert.status === 'firing' && acceptedAt >= tier.figuresAt) {
    tier.figuresAt = acceptedAt;
    tier.figures = figuresOf(alert);
    tier.summary = alert.summary;
    tier.description = alert.description;
    tier.labels = routingLabels(alert);
  }
  const { links } = incident;
  links.runbookUrl ??= alert.runbookUrl;
  links.dashboardUrl ??= alert.dashboardUrl;
  links.generatorUrl ??= alert.generatorUrl;
  return mark;
}

/** Every firing copy, repeats included, confirms its tier still fires: the stale clock restarts. */
function confirmFiring(incident: Incident, marks: KnownMarks, copies: readonly AlertCopy[]): boolean {
  let touched = false;
  for (const { alert, acceptedAt } of copies) {
    const mark = marks[alert.fingerprint];
    if (alert.status !== 'firing' || mark === undefined || mark.status !== 'firing' || mark.version !== alertVersion(alert)) continue;
    const tier = incident.tiers[mark.tier];
    if (tier === undefined) continue;
    if (acceptedAt > tier.lastSeenAt) {
      tier.lastSeenAt = acceptedAt;
      touched = true;
    }
    if (tier.stale) tier.stale = false;
  }
  return touched;
}

function figuresOf(alert: NormalizedAlert): TierFigures {
  return {
    burnRate: alert.burnRate,
    burnRateShort: alert.burnRateShort,
    burnRateLong: alert.burnRateLong,
    burnRateThreshold: alert.burnRateThreshold,
    budgetRemaining: alert.budgetRemaining,
    budgetConsumed: alert.budgetConsumed,
    timeToExhaustionSeconds: alert.timeToExhaustionSeconds,
    figuresSource: alert.figuresSource,
    longWindow: alert.longWindow,
    shortWindow: alert.shortWindow,
  };
}

/** A tier fires while any of its alerts does; its transitions go on the timeline. */
function settleTiers(incident: Incident, before: string, now: number, events: TimelineEvent[]): void {
  const wasFiring = new Set((JSON.parse(before) as Snapshot).firing);
  for (const tier of Object.values(incident.tiers)) {
    tier.firing = tier.firingAlerts > 0;
    if (tier.firing && !wasFiring.has(tier.id)) {
      tier.firingSince = iso(now);
      tier.stale = false;
      events.push({ at: iso(now), kind: 'tier_fired', tier: tier.id, severity: tier.severity });
    } else if (!tier.firing && wasFiring.has(tier.id)) {
      tier.clearedAt = iso(now);
      events.push({ at: iso(now), kind: 'tier_cleared', tier: tier.id, severity: tier.severity });
    }
    const burn = tier.figures.burnRateShort ?? tier.figures.burnRate;
    if (tier.firing && burn !== null && (incident.peakBurnRate === null || burn > incident.peakBurnRate)) incident.peakBurnRate = burn;
  }
}

/** Severity follows the firing tiers; the state follows whether any fires (with the hold-down). */
function settleState(incident: Incident, before: string, now: number, events: TimelineEvent[]): void {
  const firing = Object.values(incident.tiers).filter((tier) => tier.firing);
  const { state: previousState } = JSON.parse(before) as Snapshot;
  if (firing.length > 0) {
    const severity = firing.map((tier) => tier.severity).reduce(higherSeverity);
    if (severity !== incident.severity) {
      const kind = SEVERITY_RANK[severity] > SEVERITY_RANK[incident.severity] ? 'escalated' : 'de_escalated';
      events.push({ at: iso(now), kind, from: incident.severity, to: severity });
      if (kind === 'escalated') incident.lastEscalatedAt = iso(now);
      incident.severity = severity;
      incident.peakSeverity = higherSeverity(incident.peakSeverity, severity);
    }
    if (previousState === 'resolving') {
      incident.state = 'open';
      incident.resolvingSince = null;
      incident.holdUntil = null;
      const tier = firing.find((candidate) => events.some((event) => event.kind === 'tier_fired' && event.tier === candidate.id)) ?? firing[0]!;
      events.push({ at: iso(now), kind: 'flapped', tier: tier.id });
    }
    const remaining = newestFigures(firing).budgetRemaining;
    incident.budgetRemainingAtOpen ??= remaining;
    return;
  }
  if (incident.state !== 'open') return;
  incident.resolvingSince = iso(now);
  incident.budgetRemainingAtResolve = newestFigures(Object.values(incident.tiers)).budgetRemaining;
  if (incident.policy.resolveHoldMs <= 0) {
    resolve(incident, events);
    return;
  }
  incident.state = 'resolving';
  incident.holdUntil = now + incident.policy.resolveHoldMs;
  events.push({ at: iso(now), kind: 'resolving', holdUntil: iso(incident.holdUntil) });
}

function resolve(incident: Incident, events: TimelineEvent[]): void {
  incident.state = 'resolved';
  incident.resolvedAt = incident.resolvingSince;
  incident.holdUntil = null;
  events.push({
    at: incident.resolvedAt!,
    kind: 'resolved',
    durationMs: Date.parse(incident.resolvedAt!) - Date.parse(incident.openedAt),
  });
}

function newestFigures(tiers: readonly Tier[]): TierFigures {
  return [...tiers].sort((a, b) => b.figuresAt - a.figuresAt)[0]!.figures;
}

/**
 * Routes the incident as its labels and current severity route now. A receiver that was routed
 * before stays on the list (not routed now): it keeps hearing about the incident until it resolves.
 */
function routeIncident(incident: Incident, ctx: ApplyContext): void {
  const firing = Object.values(incident.tiers).filter((tier) => tier.firing);
  const leading = [...(firing.length > 0 ? firing : Object.values(incident.tiers))].sort(
    (a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || b.figuresAt - a.figuresAt,
  )[0]!;
  const labels = { ...leading.labels, severity: incident.severity };
  const routed = new Map(ctx.route(labels).map((delivery) => [delivery.receiver, delivery]));
  const receivers: Record<string, IncidentReceiver> = {};
  for (const [name, receiver] of Object.entries(incident.receivers)) receivers[name] = { ...receiver, routedNow: false };
  for (const [name, delivery] of routed) receivers[name] = { route: delivery.route, repeatIntervalMs: delivery.repeatIntervalMs, routedNow: true };
  incident.receivers = receivers;
}

interface Snapshot {
  state: Incident['state'];
  firing: string[];
}

/** What counts as a change receivers hear about, besides timeline events: figures, stale marks, receivers. */
function snapshot(incident: Incident): string {
  const tiers = Object.values(incident.tiers).map((tier) => [tier.id, tier.firing, tier.stale, tier.figures]);
  return JSON.stringify({
    state: incident.state,
    firing: Object.values(incident.tiers)
      .filter((tier) => tier.firing)
      .map((tier) => tier.id),
    tiers,
    receivers: incident.receivers,
  });
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
