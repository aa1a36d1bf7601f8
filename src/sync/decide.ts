import type { Severity } from '../alerts/types.js';
import { resolvedInPagerDuty } from '../incidents/actions.js';
import { figuresDigest, statusDigest } from '../incidents/figures.js';
import type { Incident, SyncDecision, Told } from '../incidents/types.js';

const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

export interface DecideOptions {
  now: number;
  /** The decisions the receiver's channel acts on (email ignores figures, PagerDuty reminders). */
  interests: ReadonlySet<SyncDecision>;
  /**
   * The receiver's channel kind: PagerDuty hears of no acknowledgement made in PagerDuty (no echo),
   * and, once it resolved the incident itself, only of a later escalation.
   */
  channel?: string;
}

/**
 * What a receiver needs to hear about an incident, given what it was told (Alertmanager's
 * `needsUpdate`): pure, so a sync that runs late or twice decides from the state as it is now, and
 * a stale sync can never undo a newer state.
 */
export function needsUpdate(incident: Incident, receiver: string, told: Told | null, { now, interests, channel }: DecideOptions): SyncDecision {
  const routing = incident.receivers[receiver];
  const pick = (decision: SyncDecision): SyncDecision => (interests.has(decision) ? decision : 'up_to_date');
  if (told === null) {
    if (routing === undefined || !routing.routedNow) return 'not_routed';
    // Nothing fires any more (cleared in its hold-down, or resolved) before anyone here heard of it: say
    // nothing. A tier that fires again is a change, and its sync tells.
    if (incident.state !== 'open') return 'up_to_date';
    return pick('first_notification');
  }
  if (told.state === 'resolved') return 'up_to_date';
  if (channel === 'pagerduty' && incident.pagerdutyResolved && told.lastAt <= Date.parse(incident.pagerdutyResolved.at)) {
    // PagerDuty resolved it itself and was told nothing since: only an escalation after that pages again.
    return resolvedInPagerDuty(incident) || incident.state !== 'open' ? 'up_to_date' : pick('escalated');
  }
  if (incident.state === 'resolved') return pick('resolved');
  if (incident.severity !== told.severity) {
    return pick(SEVERITY_RANK[incident.severity] > SEVERITY_RANK[told.severity] ? 'escalated' : 'de_escalated');
  }
  if (figuresDigest(incident) !== told.figures && interests.has('figures_changed')) return 'figures_changed';
  const acknowledged = incident.acknowledged !== null;
  // PagerDuty holds an acknowledgement made in PagerDuty already: not echoed back. (Slack's message shows
  // one made with its own button only once the sync updates it.)
  const echo = channel === 'pagerduty' && incident.acknowledged?.via === 'pagerduty';
  if (acknowledged !== told.acknowledged && !echo) {
    const decision = acknowledged ? 'acknowledged' : 'unacknowledged';
    if (interests.has(decision)) return decision;
  }
  if (statusDigest(incident) !== (told.status ?? statusDigest({ ...incident, silenced: null, pagerdutyResolved: null })) && interests.has('status_changed')) {
    return 'status_changed';
  }
  if (routing !== undefined && now - told.lastAt >= routing.repeatIntervalMs) return pick('reminder_due');
  return 'up_to_date';
}

/** When a reminder to this receiver falls due, given what it was told; null when none will. */
export function reminderDueAt(incident: Incident, receiver: string, told: Told): number | null {
  const routing = incident.receivers[receiver];
  if (incident.state === 'resolved' || told.state === 'resolved' || routing === undefined) return null;
  return told.lastAt + routing.repeatIntervalMs;
}
