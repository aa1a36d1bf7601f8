import type { Severity } from '../../alerts/types.js';
import { resolvedInPagerDuty } from '../../incidents/actions.js';
import type { Acknowledgement, ActionSource, Incident, IncidentState, Tier } from '../../incidents/types.js';
import { formatBurnRate, formatClock, formatFraction, formatSpan, formatTime, httpUrl, severityRank, silenceUrl } from './format.js';

/**
 * What every channel shows of an incident, computed once from the Incident and the time of the
 * sync. Values are raw, untrusted text (labels and annotations reach most of them): each channel
 * escapes and cuts them for its own format.
 */
export interface IncidentView {
  id: string;
  state: IncidentState;
  severity: Severity;
  peakSeverity: Severity;
  /** Severity colour, green once resolved: Slack's attachment bar, the email heading. */
  color: string;
  /** What the incident is about, the same for its whole life: `api-latency SLO`, or the alertname. */
  subject: string;
  /** `[CRITICAL] api-latency SLO: burning 94.0x now, budget exhausted in 3h 36m`; `[RESOLVED] ...` once resolved. */
  title: string;
  /** One sentence that says what is happening (or happened, once resolved), with the figures. */
  headline: string;
  /** The figures in one line (thread replies keep them): null for an alert that carries none. */
  figures: string | null;
  facts: Fact[];
  tiers: TierLine[];
  summary: string | null;
  description: string | null;
  /** http(s) links only: runbook, dashboard, the incident on the AlertCenter page, Prometheus expression, Alertmanager silence (while not resolved). */
  links: Link[];
  /**
   * What on-call did, one line each: `Acknowledged by @alice, 14:02 UTC`, `Silenced until 15:02 UTC
   * by @alice`, `Resolved in PagerDuty by Bob at 14:10 UTC while still burning`.
   */
  status: string[];
  /** What on-call can do now (Slack's buttons); null once resolved. */
  actions: { acknowledged: boolean; silenced: boolean } | null;
  /** The primary tier's labels, sorted by name. */
  labels: Array<[name: string, value: string]>;
  /** `10:00 UTC (2h 5m ago)` */
  opened: string;
  /** How long it lasted, once resolved: "2h 5m". */
  lasted: string | null;
}

export interface Fact {
  label: string;
  value: string;
}

export interface Link {
  label: string;
  url: string;
}

export interface TierLine {
  id: string;
  /** `critical 1h`, or the alertname for an alert without windows. */
  name: string;
  severity: Severity;
  state: 'firing' | 'stale' | 'cleared';
  /** `critical 1h: firing since 10:40 UTC (20 min ago), 20.1x over 1h` */
  text: string;
}

/** The figures the incident is told by, from its primary tier. */
interface Figures {
  source: 'observed' | 'threshold';
  burnNow: number | null;
  shortWindow: string | null;
  burnLong: number | null;
  longWindow: string | null;
  threshold: number | null;
  budgetRemaining: number | null;
  exhaustionSeconds: number | null;
}

const COLORS = { critical: '#E01E5A', warning: '#ECB22E', info: '#36C5F0', resolved: '#2EB67D' } as const;

export interface RenderOptions {
  /** PUBLIC_URL: the incident's page on the AlertCenter is linked when set. */
  publicUrl?: string;
}

export function renderIncident(incident: Incident, now: number, options: RenderOptions = {}): IncidentView {
  const primary = primaryTier(incident);
  const figures = primary === null ? null : figuresOf(incident, primary);
  const base = incident.slo === null ? incident.alertname : `${incident.slo} SLO`;
  const lastedMs = incident.resolvedAt === null ? null : Date.parse(incident.resolvedAt) - Date.parse(incident.openedAt);
  const lasted = lastedMs === null || !Number.isFinite(lastedMs) || lastedMs < 0 ? null : formatSpan(lastedMs);
  const context: Context = { incident, now, primary, figures, base, lasted };
  return {
    id: incident.id,
    state: incident.state,
    severity: incident.severity,
    peakSeverity: incident.peakSeverity,
    color: COLORS[incident.state === 'resolved' ? 'resolved' : incident.severity],
    subject: figures === null && incident.slo !== null ? `${base} ${incident.alertname}` : base,
    title: title(context),
    headline: headline(context),
    figures: figures === null ? null : figuresLine(incident, figures),
    facts: facts(context),
    tiers: tierLines(incident, now),
    summary: primary?.summary ?? null,
    description: primary?.description ?? null,
    links: links(incident, primary, options),
    status: statusLines(incident, now),
    actions: incident.state === 'resolved' ? null : { acknowledged: incident.acknowledged !== null, silenced: incident.silenced !== null },
    labels: Object.entries(primary?.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    opened: formatTime(incident.openedAt, now) ?? incident.openedAt,
    lasted,
  };
}

interface Context {
  incident: Incident;
  now: number;
  primary: Tier | null;
  figures: Figures | null;
  /** `api-latency SLO`, or the alertname. */
  base: string;
  lasted: string | null;
}

/**
 * The tier the incident is told by: a firing one before a stale one before a cleared one (the last
 * to clear first: its figures are the newest), then the highest severity, then observed figures
 * before the threshold's, then the newest figures.
 */
export function primaryTier(incident: Incident): Tier | null {
  const standing = (tier: Tier) => (tier.firing ? (tier.stale ? 1 : 2) : 0);
  const cleared = (tier: Tier) => (tier.firing || tier.clearedAt === null ? 0 : Date.parse(tier.clearedAt) || 0);
  const tiers = Object.values(incident.tiers).sort(
    (a, b) =>
      standing(b) - standing(a) ||
      cleared(b) - cleared(a) ||
      severityRank(b.severity) - severityRank(a.severity) ||
      Number(b.figures.figuresSource === 'observed') - Number(a.figures.figuresSource === 'observed') ||
      b.figuresAt - a.figuresAt ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  return tiers[0] ?? null;
}

function figuresOf(incident: Incident, tier: Tier): Figures | null {
  const f = tier.figures;
  const source = f.figuresSource;
  const burnLong = f.burnRateLong ?? (source === 'threshold' ? f.burnRate : null);
  const threshold = f.burnRateThreshold ?? (source === 'threshold' ? f.burnRate : null);
  if (f.burnRateShort === null && burnLong === null && threshold === null && f.budgetRemaining === null) return null;
  return {
    source,
    burnNow: source === 'observed' ? f.burnRateShort : null,
    shortWindow: f.shortWindow,
    burnLong,
    longWindow: f.longWindow,
    threshold,
    budgetRemaining: source === 'observed' ? f.budgetRemaining : null,
    exhaustionSeconds: f.timeToExhaustionSeconds ?? exhaustion(incident, f.figuresSource, f.budgetRemaining, f.burnRateShort ?? f.burnRate),
  };
}

/** remaining x period / burn; a full budget when the figures are the threshold's. */
function exhaustion(incident: Incident, source: 'observed' | 'threshold', remaining: number | null, burn: number | null): number | null {
  if (incident.periodSeconds === null || burn === null || burn <= 0) return null;
  const left = source === 'threshold' ? 1 : remaining;
  if (left === null) return null;
  return Math.max(0, (left * incident.periodSeconds) / burn);
}

function title({ incident, figures, base, lasted, now }: Context): string {
  if (incident.state === 'resolved') {
    if (figures === null) return `[RESOLVED] ${base}: ${incident.alertname} resolved${lasted === null ? '' : ` after ${lasted}`}`;
    const parts = [
      lasted === null ? 'resolved' : `burned for ${lasted}`,
      incident.peakBurnRate === null ? null : `peak ${formatBurnRate(incident.peakBurnRate)}`,
      consumedOf(incident) === null ? null : `${formatFraction(consumedOf(incident)!)} of the budget consumed`,
    ];
    return `[RESOLVED] ${base}: ${parts.filter((part) => part !== null).join(', ')}`;
  }
  const severity = incident.severity.toUpperCase();
  if (incident.state === 'resolving') {
    const until = incident.holdUntil === null ? null : formatClock(incident.holdUntil, now);
    return `[${severity}, CLEARING] ${base}: every tier cleared${until === null ? '' : `, resolves at ${until} unless one fires again`}`;
  }
  if (figures !== null) return `[${severity}] ${base}: ${burningPhrase(figures)}`;
  const summary = primaryTier(incident)?.summary ?? null;
  if (summary === null) return incident.slo === null ? `[${severity}] ${base}` : `[${severity}] ${base}: ${incident.alertname}`;
  // "api-latency SLO has no data: ..." says its subject already.
  return summary.toLowerCase().startsWith(base.toLowerCase()) ? `[${severity}] ${summary}` : `[${severity}] ${base}: ${summary}`;
}

function burningPhrase(figures: Figures): string {
  const exhausted = exhaustedPhrase(figures);
  if (figures.source === 'threshold') {
    const burn = figures.threshold ?? figures.burnLong;
    const over = figures.longWindow === null ? '' : ` over ${figures.longWindow}`;
    return `burning at ${burn === null ? 'its threshold' : `${formatBurnRate(burn)}+`}${over} (threshold figures)${exhausted === null ? '' : `, a full budget lasts ${exhausted}`}`;
  }
  const burn =
    figures.burnNow !== null
      ? `burning ${formatBurnRate(figures.burnNow)} now`
      : figures.burnLong !== null
        ? `burning ${formatBurnRate(figures.burnLong)}${figures.longWindow === null ? '' : ` over ${figures.longWindow}`}`
        : 'burning its budget';
  if (figures.budgetRemaining !== null && figures.budgetRemaining <= 0) return `${burn}, budget exhausted`;
  return exhausted === null ? burn : `${burn}, budget exhausted in ${exhausted}`;
}

function exhaustedPhrase(figures: Figures): string | null {
  return figures.exhaustionSeconds === null ? null : formatSpan(figures.exhaustionSeconds * 1000);
}

function headline({ incident, now, figures, base, lasted, primary }: Context): string {
  const period = incident.period === null ? 'error budget' : `${incident.period} error budget`;
  if (incident.state === 'resolved') {
    const from = formatClock(incident.openedAt, now);
    const to = incident.resolvedAt === null ? null : formatClock(incident.resolvedAt, now);
    const span = from !== null && to !== null ? ` from ${from} to ${to}` : '';
    const what = figures === null ? `${base} ${incident.alertname} fired` : `${base} burned its ${period}`;
    const story = [`Resolved: ${what}${span}${lasted === null ? '' : ` (${lasted})`}`];
    if (incident.peakBurnRate !== null) story.push(`its burn peaked at ${formatBurnRate(incident.peakBurnRate)}`);
    const consumed = consumedOf(incident);
    if (consumed !== null) {
      story.push(
        `it consumed ${formatFraction(consumed)} of the budget (${formatFraction(incident.budgetRemainingAtOpen!)} left when it opened, ${formatFraction(incident.budgetRemainingAtResolve!)} when it resolved)`,
      );
    } else if (incident.budgetRemainingAtResolve !== null) {
      story.push(`${formatFraction(incident.budgetRemainingAtResolve)} of the budget was left when it resolved`);
    }
    return `${story.join('; ')}.`;
  }
  if (incident.state === 'resolving') {
    const until = incident.holdUntil === null ? null : formatTime(incident.holdUntil, now);
    return `Every tier of ${base} cleared${until === null ? '' : `; the incident resolves at ${until} unless a tier fires again`}.`;
  }
  if (figures === null) return primary?.summary ?? `${base}: ${incident.alertname} is firing.`;
  if (figures.source === 'threshold') {
    const burn = figures.threshold ?? figures.burnLong;
    const exhausted = exhaustedPhrase(figures);
    return (
      `${base} is burning its ${period} at ${burn === null ? 'its alert threshold' : `${formatBurnRate(burn)} or more`}` +
      `${figures.longWindow === null ? '' : ` over ${figures.longWindow}`}: these are the alert rule's threshold figures, the alert carried no live ones.` +
      (exhausted === null ? '' : ` At that rate a full budget lasts ${exhausted}.`)
    );
  }
  const rates: string[] = [];
  if (figures.burnNow !== null) rates.push(`${formatBurnRate(figures.burnNow)} now${figures.shortWindow === null ? '' : ` (${figures.shortWindow})`}`);
  if (figures.burnLong !== null) rates.push(`${formatBurnRate(figures.burnLong)}${figures.longWindow === null ? '' : ` over ${figures.longWindow}`}`);
  let sentence = `${base} is burning its ${period}${rates.length === 0 ? '' : ` at ${rates.join(', ')}`}.`;
  if (figures.budgetRemaining !== null) {
    if (figures.budgetRemaining <= 0) sentence += ` The budget is exhausted (${formatFraction(figures.budgetRemaining)} left).`;
    else {
      const exhausted = exhaustedPhrase(figures);
      sentence += ` ${formatFraction(figures.budgetRemaining)} of it is left${exhausted === null ? '' : `: gone in ${exhausted} at the burn now`}.`;
    }
  }
  return sentence;
}

/** The figures in one line, for a thread reply or a field: they stay as they were when it was sent. */
function figuresLine(incident: Incident, figures: Figures): string {
  const exhausted = exhaustedPhrase(figures);
  const within = (window: string | null) => (window === null ? '' : ` over ${window}`);
  if (figures.source === 'threshold') {
    const burn = figures.threshold ?? figures.burnLong;
    return (
      `Burn ${burn === null ? 'at its threshold' : `${formatBurnRate(burn)} or more`}${within(figures.longWindow)} (threshold figures, no live ones)` +
      (exhausted === null ? '.' : `; a full budget lasts ${exhausted} at that rate.`)
    );
  }
  const parts: string[] = [];
  const rates: string[] = [];
  if (figures.burnNow !== null) rates.push(`${formatBurnRate(figures.burnNow)} now${figures.shortWindow === null ? '' : ` (${figures.shortWindow})`}`);
  if (figures.burnLong !== null) rates.push(`${formatBurnRate(figures.burnLong)}${within(figures.longWindow)}`);
  if (rates.length > 0) parts.push(`Burn ${rates.join(', ')}`);
  if (figures.budgetRemaining !== null) {
    parts.push(
      figures.budgetRemaining <= 0
        ? `budget exhausted (${formatFraction(figures.budgetRemaining)} left)`
        : `${formatFraction(figures.budgetRemaining)} of the ${incident.period ?? ''}${incident.period === null ? '' : ' '}budget left${exhausted === null ? '' : `, exhausted in ${exhausted} at the burn now`}`,
    );
  }
  return `${parts.join('; ')}.`;
}

function consumedOf(incident: Incident): number | null {
  const { budgetRemainingAtOpen: open, budgetRemainingAtResolve: resolve } = incident;
  return open === null || resolve === null ? null : open - resolve;
}

function facts({ incident, now, figures, lasted }: Context): Fact[] {
  const severity =
    incident.peakSeverity === incident.severity
      ? incident.severity.toUpperCase()
      : `${incident.severity.toUpperCase()} (peaked at ${incident.peakSeverity.toUpperCase()})`;
  const objective = incident.objective === null ? null : `${incident.objective}%${incident.period ? ` over ${incident.period}` : ''}`;
  const firing = Object.values(incident.tiers)
    .filter((tier) => tier.firing)
    .sort((a, b) => severityRank(b.severity) - severityRank(a.severity) || (a.id < b.id ? -1 : 1))
    .map((tier) => `${tierName(tier)}${tier.stale ? ' (stale)' : ''}`);
  const all: Array<[string, string | null]> =
    incident.state === 'resolved'
      ? [
          ['Lasted', lasted],
          ['Peak severity', incident.peakSeverity.toUpperCase()],
          ['Peak burn', incident.peakBurnRate === null ? null : formatBurnRate(incident.peakBurnRate)],
          ['Budget consumed', budgetConsumedFact(incident)],
          ['Objective', objective],
          ['Service', incident.service],
          ['Opened', formatTime(incident.openedAt, now)],
          ['Resolved', incident.resolvedAt === null ? null : formatTime(incident.resolvedAt, now)],
        ]
      : [
          ['Severity', severity],
          ...figureFacts(incident, figures),
          ['Objective', objective],
          ['Service', incident.service],
          ['Tiers firing', firing.length === 0 ? 'none' : firing.join(', ')],
          ['Opened', formatTime(incident.openedAt, now)],
          ['Resolves', incident.state === 'resolving' && incident.holdUntil !== null ? formatTime(incident.holdUntil, now) : null],
        ];
  return all.flatMap(([label, value]) => (value === null ? [] : [{ label, value }]));
}

function figureFacts(incident: Incident, figures: Figures | null): Array<[string, string | null]> {
  if (figures === null) return [];
  const exhausted = exhaustedPhrase(figures);
  const within = (window: string | null) => (window === null ? '' : ` over ${window}`);
  if (figures.source === 'threshold') {
    const burn = figures.threshold ?? figures.burnLong;
    return [
      ['Burn rate', burn === null ? null : `${formatBurnRate(burn)} or more${within(figures.longWindow)} (the alert's threshold, no live figures)`],
      ['Budget exhausted in', exhausted === null ? null : `${exhausted} at that rate, of a full budget`],
    ];
  }
  const budget = figures.budgetRemaining;
  return [
    ['Burn now', figures.burnNow === null ? null : `${formatBurnRate(figures.burnNow)}${within(figures.shortWindow)}`],
    ['Burn, long window', figures.burnLong === null ? null : `${formatBurnRate(figures.burnLong)}${within(figures.longWindow)}`],
    ['Budget remaining', budget === null ? null : `${formatFraction(budget)}${incident.period === null ? '' : ` of ${incident.period}`}`],
    ['Budget exhausted in', budget !== null && budget <= 0 ? 'exhausted' : exhausted === null ? null : `${exhausted} at the burn now`],
  ];
}

function budgetConsumedFact(incident: Incident): string | null {
  const consumed = consumedOf(incident);
  if (consumed === null) {
    return incident.budgetRemainingAtResolve === null ? null : `unknown (${formatFraction(incident.budgetRemainingAtResolve)} left)`;
  }
  return `${formatFraction(consumed)} (${formatFraction(incident.budgetRemainingAtOpen!)} → ${formatFraction(incident.budgetRemainingAtResolve!)} left)`;
}

function tierName(tier: Tier): string {
  return tier.figures.longWindow === null ? `${tier.severity} ${tier.alertname}` : `${tier.severity} ${tier.figures.longWindow}`;
}

function tierLines(incident: Incident, now: number): TierLine[] {
  return Object.values(incident.tiers)
    .sort((a, b) => Number(b.firing) - Number(a.firing) || severityRank(b.severity) - severityRank(a.severity) || (a.id < b.id ? -1 : 1))
    .map((tier) => {
      const state = tier.firing ? (tier.stale ? 'stale' : 'firing') : 'cleared';
      const when =
        state === 'cleared'
          ? `cleared${tier.clearedAt === null ? '' : ` at ${formatTime(tier.clearedAt, now)}`}`
          : state === 'stale'
            ? `stale: no alert confirmed it since ${formatTime(tier.lastSeenAt, now)}`
            : `firing${tier.firingSince === null ? '' : ` since ${formatTime(tier.firingSince, now)}`}`;
      const f = tier.figures;
      const burn = f.figuresSource === 'observed' ? f.burnRateLong : (f.burnRateThreshold ?? f.burnRate);
      const rate =
        burn === null ? '' : `, ${formatBurnRate(burn)}${f.figuresSource === 'threshold' ? '+' : ''}${f.longWindow === null ? '' : ` over ${f.longWindow}`}`;
      return { id: tier.id, name: tierName(tier), severity: tier.severity, state, text: `${tierName(tier)}: ${when}${rate}` };
    });
}

function links(incident: Incident, primary: Tier | null, { publicUrl }: RenderOptions): Link[] {
  const { runbookUrl, dashboardUrl, generatorUrl, alertmanagerUrl } = incident.links;
  const all: Array<[string, string | null]> = [
    ['Runbook', runbookUrl],
    ['Dashboard', dashboardUrl],
    ['AlertCenter', publicUrl === undefined ? null : `${publicUrl}/incidents/${encodeURIComponent(incident.id)}`],
    ['Prometheus expression', generatorUrl],
    [
      'Silence',
      incident.state === 'resolved' || incident.silenced !== null || alertmanagerUrl === null
        ? null
        : silenceUrl(alertmanagerUrl, silenceMatchers(incident, primary)),
    ],
  ];
  return all.flatMap(([label, url]) => {
    const safe = url === null ? null : httpUrl(url);
    return safe === null ? [] : [{ label, url: safe }];
  });
}

/** The incident key's labels when its alerts carry them (every tier of the SLO), else the primary alert's labels. */
function silenceMatchers(incident: Incident, primary: Tier | null): Record<string, string> {
  const labels = primary?.labels ?? {};
  const key = Object.entries(incident.keyLabels);
  if (key.length > 0 && key.every(([name, value]) => labels[name] === value)) return Object.fromEntries(key);
  return labels;
}

/** `@alice` for a Slack user, `Bob in PagerDuty`, `carol` through the API. */
export function actorName(name: string, via: ActionSource): string {
  return via === 'slack' ? `@${name}` : via === 'pagerduty' ? `${name} in PagerDuty` : name;
}

/** `Acknowledged by @alice, 14:02 UTC` */
export function acknowledgedLine(acknowledged: Acknowledgement, now: number): string {
  return `Acknowledged by ${actorName(acknowledged.by, acknowledged.via)}, ${formatClock(acknowledged.at, now) ?? acknowledged.at}`;
}

function statusLines(incident: Incident, now: number): string[] {
  const lines: string[] = [];
  if (incident.acknowledged !== null) lines.push(acknowledgedLine(incident.acknowledged, now));
  const silenced = incident.silenced;
  if (silenced !== null) {
    const until = formatClock(silenced.until, now) ?? silenced.until;
    lines.push(`Silenced until ${until} by ${actorName(silenced.by, silenced.via)}${silenced.comment === '' ? '' : `: ${silenced.comment}`}`);
  }
  if (resolvedInPagerDuty(incident)) {
    const resolved = incident.pagerdutyResolved!;
    lines.push(
      `Resolved in PagerDuty by ${resolved.by} at ${formatClock(resolved.at, now) ?? resolved.at} while still burning: a later escalation pages again`,
    );
  }
  return lines;
}
