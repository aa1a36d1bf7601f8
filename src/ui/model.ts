import type { SloCatalog } from '../alerts/slo-catalog.js';
import type { Severity } from '../alerts/types.js';
import { type ReceiverView, receiverViews } from '../api/routes/incidents.js';
import type { Incident, TimelineEvent, Told } from '../incidents/types.js';
import { formatBurnRate, formatFraction, formatSpan, formatTime, severityRank } from '../notifiers/render/format.js';
import type { PrometheusReading } from './prometheus.js';
import { sparkline } from './sparkline.js';

/** What the templates show: plain data, every text already formatted; the templates only lay it out. */

export interface ChipView {
  receiver: string;
  channel: string;
  status: ReceiverView['status'];
  label: string;
  title: string;
  href: string | null;
}

export interface IncidentRow {
  id: string;
  title: string;
  slo: string | null;
  service: string | null;
  state: Incident['state'];
  severity: Severity;
  peakSeverity: Severity;
  opened: string;
  duration: string;
  acknowledgedBy: string | null;
  acknowledgedAt: string | null;
  silencedUntil: string | null;
  chips: ChipView[];
}

export interface LinkContext {
  slackWorkspaceUrl: string | undefined;
  /** Receiver name -> channel kind, from the routing config in force. */
  channelOf: (receiver: string) => string;
}

const STATUS_LABEL: Record<ReceiverView['status'], string> = {
  sent: 'sent',
  pending: 'pending',
  retrying: 'retrying',
  dead_lettered: 'dead-lettered',
  not_notified: 'not notified',
};

function chipsOf(incident: Incident, told: Record<string, Told>, recent: readonly TimelineEvent[], links: LinkContext): ChipView[] {
  return Object.entries(receiverViews(incident, told, recent)).map(([receiver, view]) => {
    const receipt = view.told?.receipt;
    let href: string | null = null;
    const details: string[] = [];
    if (receipt?.slack) {
      details.push(`Slack message ${receipt.slack.channel} ${receipt.slack.ts}`);
      if (links.slackWorkspaceUrl)
        href = `${links.slackWorkspaceUrl.replace(/\/$/, '')}/archives/${receipt.slack.channel}/p${receipt.slack.ts.replace('.', '')}`;
    }
    if (receipt?.pagerduty) {
      details.push(`PagerDuty dedup_key ${receipt.pagerduty.dedupKey}`);
      const url = (receipt.pagerduty as { htmlUrl?: string }).htmlUrl;
      if (typeof url === 'string' && /^https?:\/\//.test(url)) href = url;
    }
    if (receipt?.email) details.push(`mail thread ${receipt.email.threadId}`);
    if (view.lastFailure && view.status !== 'sent') details.push(`last failure: ${view.lastFailure.reason}: ${view.lastFailure.error}`);
    if (view.told) details.push(`${view.told.sent} sent`);
    return {
      receiver,
      channel: links.channelOf(receiver),
      status: view.status,
      label: STATUS_LABEL[view.status],
      title: `${receiver}: ${STATUS_LABEL[view.status]}${details.length > 0 ? ` (${details.join('; ')})` : ''}`,
      href,
    };
  });
}

export function incidentRow(incident: Incident, told: Record<string, Told>, recent: readonly TimelineEvent[], links: LinkContext, now: number): IncidentRow {
  const opened = Date.parse(incident.openedAt);
  const end = incident.resolvedAt ? Date.parse(incident.resolvedAt) : now;
  return {
    id: incident.id,
    title: incident.title,
    slo: incident.slo,
    service: incident.service,
    state: incident.state,
    severity: incident.severity,
    peakSeverity: incident.peakSeverity,
    opened: formatTime(incident.openedAt, now) ?? incident.openedAt,
    duration: formatSpan(Math.max(0, end - opened)),
    acknowledgedBy: incident.acknowledged?.by ?? null,
    acknowledgedAt: incident.acknowledged ? formatTime(incident.acknowledged.at, now) : null,
    silencedUntil: incident.silenced && Date.parse(incident.silenced.until) > now ? formatTime(incident.silenced.until, now) : null,
    chips: chipsOf(incident, told, recent, links),
  };
}

export interface IncidentFilters {
  state: 'open' | 'resolved' | '';
  slo: string;
  severity: Severity | '';
}

/** Open first (highest severity, then newest), then resolved, newest first. */
export function sortIncidents(incidents: Incident[]): Incident[] {
  return [...incidents].sort((a, b) => {
    const open = Number(b.state !== 'resolved') - Number(a.state !== 'resolved');
    if (open !== 0) return open;
    if (a.state !== 'resolved') {
      const severity = severityRank(b.severity) - severityRank(a.severity);
      if (severity !== 0) return severity;
    }
    return Date.parse(b.openedAt) - Date.parse(a.openedAt);
  });
}

/**
 * Rows in the order the page already shows (`pinned`, ids), new ones after them: while a user has
 * an incident selected or open, a refresh must not move rows under them.
 */
export function keepOrder<T extends { id: string }>(rows: T[], pinned: readonly string[]): T[] {
  if (pinned.length === 0) return rows;
  const position = new Map(pinned.map((id, i) => [id, i]));
  const known = rows.filter((row) => position.has(row.id)).sort((a, b) => position.get(a.id)! - position.get(b.id)!);
  return [...known, ...rows.filter((row) => !position.has(row.id))];
}

export interface SloCard {
  name: string;
  service: string;
  description: string;
  objective: string;
  period: string;
  budgetRemaining: string | null;
  budgetLevel: 'ok' | 'low' | 'exhausted' | 'unknown';
  burnRate: string | null;
  burnLevel: 'ok' | 'warning' | 'critical' | 'unknown';
  timeToExhaustion: string | null;
  /** Where the figures come from, said on the card. */
  source: string;
  sparkline: string | null;
  incident: { id: string; state: Incident['state']; severity: Severity; title: string } | null;
  dashboardUrl: string | null;
  runbookUrl: string | null;
}

/** One card per SLO of the catalog, from Prometheus when it answered, else from the newest alert. */
export function sloCards(catalog: SloCatalog, incidents: readonly Incident[], prometheus: PrometheusReading | null, now: number): SloCard[] {
  return catalog.slos.map((slo) => {
    // Open first, the most severe first: the card shows the incident that matters most now.
    const ofSlo = sortIncidents(incidents.filter((incident) => incident.slo === slo.name));
    const current = ofSlo.find((incident) => incident.state !== 'resolved') ?? ofSlo[0] ?? null;
    const newest = newestFigures(ofSlo);
    let budget: number | null = null;
    let burn: number | null = null;
    let tte: number | null = null;
    let source: string;
    let history: Array<[number, number]> = [];
    const fromPrometheus = prometheus?.ok ? prometheus.bySlo.get(slo.name) : undefined;
    if (fromPrometheus) {
      budget = fromPrometheus.budgetRemaining;
      burn = fromPrometheus.burnRate;
      history = fromPrometheus.history;
      tte = budget !== null && burn !== null && burn > 0 && budget > 0 ? (budget * slo.periodSeconds) / burn : null;
      source = `Prometheus, ${formatTime(prometheus!.at, now)}`;
    } else {
      const unreachable = prometheus && !prometheus.ok ? `Prometheus unreachable (${prometheus.error}); ` : '';
      if (newest) {
        budget = newest.figures.budgetRemaining;
        burn = newest.figures.burnRateShort ?? newest.figures.burnRate;
        tte = newest.figures.timeToExhaustionSeconds;
        const threshold = newest.figures.figuresSource === 'threshold' ? ", the rule's threshold of a full budget" : '';
        source = `${unreachable}from the newest alert, ${formatTime(newest.at, now)}${threshold}`;
      } else {
        source = `${unreachable}no alert received yet`;
      }
    }
    return {
      name: slo.name,
      service: slo.service,
      description: slo.description,
      objective: `${slo.objective}%`,
      period: slo.period,
      budgetRemaining: budget === null ? null : formatFraction(budget),
      budgetLevel: budget === null ? 'unknown' : budget <= 0 ? 'exhausted' : budget < 0.25 ? 'low' : 'ok',
      burnRate: burn === null ? null : formatBurnRate(burn),
      burnLevel: burn === null ? 'unknown' : burn >= 14.4 ? 'critical' : burn >= 1 ? 'warning' : 'ok',
      timeToExhaustion: tte === null ? null : formatSpan(tte * 1000),
      source,
      sparkline:
        history.length > 1
          ? sparkline(
              history.map(([, value]) => value),
              { label: `${slo.name} error budget remaining over 7 days` },
            )
          : null,
      incident: current ? { id: current.id, state: current.state, severity: current.severity, title: current.title } : null,
      dashboardUrl: slo.dashboard_url ?? null,
      runbookUrl: slo.runbook_url ?? null,
    };
  });
}

function newestFigures(incidents: readonly Incident[]): { figures: Incident['tiers'][string]['figures']; at: number } | null {
  let best: { figures: Incident['tiers'][string]['figures']; at: number } | null = null;
  for (const incident of incidents) {
    for (const tier of Object.values(incident.tiers)) {
      if (!best || tier.figuresAt > best.at) best = { figures: tier.figures, at: tier.figuresAt };
    }
  }
  return best;
}

export interface TimelineEntry {
  at: string;
  kind: string;
  text: string;
  tone: 'info' | 'good' | 'bad' | 'warn';
}

/** Each timeline event as a sentence. */
export function describeEvent(event: TimelineEvent, now: number): TimelineEntry {
  const at = formatTime(event.at, now) ?? event.at;
  const entry = (text: string, tone: TimelineEntry['tone'] = 'info') => ({ at, kind: event.kind, text, tone });
  switch (event.kind) {
    case 'opened':
      return entry(`Opened at ${event.severity}`, 'bad');
    case 'tier_fired':
      return entry(`Tier ${event.tier} fired (${event.severity})`, 'bad');
    case 'tier_cleared':
      return entry(`Tier ${event.tier} cleared (${event.severity})`, 'good');
    case 'tier_stale':
      return entry(`Tier ${event.tier} stale: no copy confirmed it firing`, 'warn');
    case 'escalated':
      return entry(`Escalated from ${event.from} to ${event.to}`, 'bad');
    case 'de_escalated':
      return entry(`De-escalated from ${event.from} to ${event.to}`, 'good');
    case 'flapped':
      return entry(`Tier ${event.tier} fired again within the hold-down (flapped)`, 'warn');
    case 'resolving':
      return entry(`Every tier cleared; resolves ${formatTime(event.holdUntil, now) ?? event.holdUntil} unless one fires again`);
    case 'resolved':
      return entry(`Resolved after ${formatSpan(event.durationMs)}`, 'good');
    case 'notification_sent':
      return entry(`${event.receiver} (${event.channel}): ${event.action} [${event.decision.replace(/_/g, ' ')}]${receiptText(event.receipt)}`, 'good');
    case 'notification_failed':
      return entry(`${event.receiver} (${event.channel}): attempt ${event.attempt} failed: ${event.reason}: ${event.error}`, 'warn');
    case 'notification_dead_lettered':
      return entry(`${event.receiver} (${event.channel}): dead-lettered: ${event.reason}: ${event.error}`, 'bad');
    case 'notification_settled':
      return entry(`${event.receiver} (${event.channel}): settled, nothing left to send`);
    case 'acknowledged':
      return entry(`Acknowledged by ${event.by} (${event.via})`, 'good');
    case 'unacknowledged':
      return entry(`Acknowledgement taken back by ${event.by} (${event.via})`, 'warn');
    case 'silenced':
      return entry(
        `Silenced by ${event.by} (${event.via}) until ${formatTime(event.until, now) ?? event.until} on ${event.silences.length} Alertmanager(s)${event.comment ? `: ${event.comment}` : ''}`,
        'good',
      );
    case 'unsilenced':
      return entry(event.expired ? 'Silence expired' : `Unsilenced by ${event.by} (${event.via})`);
    case 'silence_failed':
      return entry(`Silence by ${event.by} (${event.via}) not done: ${event.errors.join('; ')}`, 'bad');
    case 'pagerduty_reassigned':
      return entry(`Reassigned in PagerDuty by ${event.by} to ${event.to.join(', ')}`);
    case 'pagerduty_resolved':
      return entry(`Resolved in PagerDuty by ${event.by}${event.whileBurning ? ' while still burning' : ''}`, event.whileBurning ? 'warn' : 'good');
    case 'alertmanager_checked':
      return entry(`Alertmanager no longer lists ${event.resolved.length} alert(s) of this silenced incident; ${event.firing} still fire`);
  }
}

function receiptText(receipt: Told['receipt']): string {
  const parts: string[] = [];
  const r = receipt;
  if (r.slack) parts.push(`Slack ts ${r.slack.ts}`);
  if (r.pagerduty) parts.push(`dedup_key ${r.pagerduty.dedupKey}`);
  if (r.email) parts.push(`Message-ID ${r.email.lastMessageId}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

export interface TierView {
  id: string;
  alertname: string;
  severity: Severity;
  firing: boolean;
  stale: boolean;
  since: string | null;
  figures: Array<[string, string]>;
  summary: string | null;
  labels: Array<[string, string]>;
}

export function tierViews(incident: Incident, now: number): TierView[] {
  return Object.values(incident.tiers)
    .sort((a, b) => severityRank(b.severity) - severityRank(a.severity))
    .map((tier) => {
      const f = tier.figures;
      const figures: Array<[string, string]> = [];
      if (f.burnRateShort !== null) figures.push([`Burn now${f.shortWindow ? ` (${f.shortWindow})` : ''}`, formatBurnRate(f.burnRateShort)]);
      if (f.burnRateLong !== null) figures.push([`Burn${f.longWindow ? ` over ${f.longWindow}` : ''}`, formatBurnRate(f.burnRateLong)]);
      else if (f.burnRate !== null) figures.push(['Burn (threshold side)', formatBurnRate(f.burnRate)]);
      if (f.budgetRemaining !== null) figures.push(['Budget remaining', formatFraction(f.budgetRemaining)]);
      if (f.timeToExhaustionSeconds !== null) figures.push(['Exhausted in', formatSpan(f.timeToExhaustionSeconds * 1000)]);
      if (f.figuresSource === 'threshold') figures.push(['Figures', "the rule's threshold, of a full budget"]);
      return {
        id: tier.id,
        alertname: tier.alertname,
        severity: tier.severity,
        firing: tier.firing,
        stale: tier.stale,
        since: tier.firingSince ? formatTime(tier.firingSince, now) : tier.clearedAt ? `cleared ${formatTime(tier.clearedAt, now)}` : null,
        figures,
        summary: tier.summary,
        labels: Object.entries(tier.labels).sort(([a], [b]) => a.localeCompare(b)),
      };
    });
}
