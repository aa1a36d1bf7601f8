import { createHash } from 'node:crypto';
import type { event } from '@pagerduty/pdjs';
import type { SyncDecision } from '../../incidents/types.js';
import { formatClock } from '../render/format.js';
import { renderIncident } from '../render/incident-view.js';
import { singleLine, truncate } from '../render/text.js';
import type { SyncContext } from '../types.js';

/** pdjs exports no types by name: take them from its `event` function. */
export type EventParameters = Parameters<typeof event>[0];
type EventData = EventParameters['data'];
/** pdjs's type wants a payload on every event; the Events API needs none on a resolve. */
export type PagerDutyEvent = Omit<EventData, 'routing_key' | 'payload'> & { payload?: EventData['payload'] };

/** Events API v2 limits, plus a cap on the other free-text fields (the whole event may not pass 512 KB). */
export const PAGERDUTY_LIMITS = { summary: 1024, dedupKey: 255, field: 1024, detail: 4096 };

/**
 * What PagerDuty hears of: never figures, never reminders (a page is never sent again to say the
 * same thing); an acknowledgement made elsewhere (its Events API has no unacknowledge).
 */
export const PAGERDUTY_INTERESTS: ReadonlySet<SyncDecision> = new Set(['first_notification', 'escalated', 'de_escalated', 'resolved', 'acknowledged']);

const KEY_PREFIX = 'alertcenter/incident/';

/** One dedup_key per incident: every trigger updates the one PagerDuty alert, the resolve closes it. */
export function dedupKey(incidentId: string): string {
  const key = `${KEY_PREFIX}${incidentId}`;
  return key.length <= PAGERDUTY_LIMITS.dedupKey ? key : `${KEY_PREFIX}sha256:${createHash('sha256').update(incidentId).digest('hex')}`;
}

/** The incident a dedup_key of ours names (PagerDuty's webhooks call it `incident_key`); null for any other key. */
export function incidentIdOfDedupKey(key: string): string | null {
  if (!key.startsWith(KEY_PREFIX) || key.startsWith(`${KEY_PREFIX}sha256:`)) return null;
  const id = key.slice(KEY_PREFIX.length);
  return id === '' ? null : id;
}

/**
 * The event without its routing key: the notifier adds that, the dry run never has one.
 * - open (first notification, escalation): `trigger` at the incident's severity; PagerDuty raises
 *   the alert's urgency on the higher one;
 * - de-escalation: PagerDuty cannot lower an alert's urgency, so the `trigger` keeps the peak
 *   severity and says the current one, and what changed, in custom_details;
 * - resolved: `resolve`, whatever the decision that brought the sync (a late sync never re-opens it);
 * - acknowledged (in Slack or the API): `acknowledge`, so PagerDuty stops escalating the page.
 */
export function composePagerDutyEvent(context: SyncContext): PagerDutyEvent {
  const { incident, decision, now } = context;
  const dedup_key = dedupKey(incident.id);
  if (incident.state === 'resolved') return { event_action: 'resolve', dedup_key };
  if (decision === 'acknowledged') return { event_action: 'acknowledge', dedup_key };
  const view = renderIncident(incident, now);
  const field = (text: string) => truncate(singleLine(text), PAGERDUTY_LIMITS.field);
  const detail = (text: string) => truncate(text, PAGERDUTY_LIMITS.detail);
  const optional = (name: string, value: string | null) => (value === null ? {} : { [name]: field(value) });
  const deEscalated = decision === 'de_escalated';
  const change = changeOf(context);
  const labels = Object.fromEntries(view.labels.map(([name, value]) => [field(name), detail(value)]));
  return {
    event_action: 'trigger',
    dedup_key,
    payload: {
      summary: truncate(singleLine(view.title), PAGERDUTY_LIMITS.summary),
      source: field(incident.service ?? labels.instance ?? labels.job ?? 'alertcenter'),
      severity: deEscalated ? incident.peakSeverity : incident.severity,
      timestamp: new Date(now).toISOString(),
      ...optional('component', incident.service),
      ...optional('group', incident.slo),
      class: field(incident.alertname),
      custom_details: {
        ...(change === null ? {} : { Change: change }),
        ...(deEscalated ? { 'Current severity': incident.severity, 'Paged at': incident.peakSeverity } : {}),
        Incident: incident.id,
        State: incident.state,
        'What is happening': detail(view.headline),
        ...Object.fromEntries(view.facts.map((fact) => [fact.label, detail(fact.value)])),
        ...(view.tiers.length === 0 ? {} : { Tiers: view.tiers.map((tier) => detail(tier.text)) }),
        ...(view.summary === null ? {} : { Summary: detail(view.summary) }),
        ...(view.description === null ? {} : { Description: detail(view.description) }),
        Labels: labels,
      },
    },
    links: view.links.map((link) => ({ href: link.url, text: link.label })),
  };
}

function changeOf({ incident, told, decision, now }: SyncContext): string | null {
  const from = (told?.severity ?? incident.peakSeverity).toUpperCase();
  const to = incident.severity.toUpperCase();
  const at = formatClock(now, now);
  switch (decision) {
    case 'escalated':
      return `Escalated from ${from} to ${to} at ${at}`;
    case 'de_escalated':
      return `De-escalated from ${from} to ${to} at ${at}. PagerDuty cannot lower an alert's urgency: it stays at ${incident.peakSeverity.toUpperCase()} until the incident resolves.`;
    default:
      return null;
  }
}
