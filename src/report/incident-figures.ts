import type { Severity } from '../alerts/types.js';
import type { Incident, TimelineEvent } from '../incidents/types.js';
import type { IncidentFigures, IncidentSummary } from './model.js';
import type { IsoWeek } from './week.js';

/** A PagerDuty trigger: the first page of an incident, and each escalation's higher-severity trigger. */
const PAGING_DECISIONS = new Set(['first_notification', 'escalated']);

/**
 * One incident's figures for the week. Time firing runs from its opening to its resolve (or to the
 * week's end, or `now` for a week still running), within the week. Time to acknowledge needs
 * `acknowledged.at`, which the acknowledge feature sets: until then it is null ("n/a").
 */
export function summarizeIncident(incident: Incident, timeline: readonly TimelineEvent[], week: IsoWeek, now: number): IncidentSummary {
  const opened = Date.parse(incident.openedAt);
  const until = Math.min(incident.resolvedAt === null ? now : Date.parse(incident.resolvedAt), week.end, now);
  const acknowledgedAt = incident.acknowledged?.at ? Date.parse(incident.acknowledged.at) : NaN;
  return {
    id: incident.id,
    title: incident.title,
    alertname: incident.alertname,
    peakSeverity: incident.peakSeverity,
    state: incident.state,
    openedAt: incident.openedAt,
    resolvedAt: incident.resolvedAt,
    firingSeconds: Math.max(0, (until - Math.max(opened, week.start)) / 1000),
    pages: timeline.filter(
      (event) =>
        event.kind === 'notification_sent' && event.channel === 'pagerduty' && event.receipt.pagerduty !== undefined && PAGING_DECISIONS.has(event.decision),
    ).length,
    flaps: timeline.filter((event) => event.kind === 'flapped').length,
    acknowledgeSeconds: Number.isFinite(acknowledgedAt) ? Math.max(0, (acknowledgedAt - opened) / 1000) : null,
  };
}

/** The incidents of one SLO opened in the week, added up. */
export function incidentFigures(summaries: readonly IncidentSummary[]): IncidentFigures {
  const byPeakSeverity: Record<Severity, number> = { critical: 0, warning: 0, info: 0 };
  for (const summary of summaries) byPeakSeverity[summary.peakSeverity] += 1;
  const acknowledged = summaries
    .map((summary) => summary.acknowledgeSeconds)
    .filter((seconds): seconds is number => seconds !== null)
    .sort((a, b) => a - b);
  return {
    count: summaries.length,
    byPeakSeverity,
    firingSeconds: summaries.reduce((total, summary) => total + summary.firingSeconds, 0),
    pages: summaries.reduce((total, summary) => total + summary.pages, 0),
    acknowledge: {
      acknowledged: acknowledged.length,
      medianSeconds: median(acknowledged),
      longestSeconds: acknowledged.length === 0 ? null : acknowledged.at(-1)!,
    },
    flaps: summaries.reduce((total, summary) => total + summary.flaps, 0),
    incidents: [...summaries],
  };
}

function median(sorted: readonly number[]): number | null {
  if (sorted.length === 0) return null;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
