import type { Applied } from './apply.js';
import type { Actor, Incident, IncidentSilence, SilenceRef, TimelineEvent } from './types.js';

/**
 * What on-call does to an incident (acknowledge, silence, and what PagerDuty says it did), as pure
 * functions of the stored incident, like applyAlerts: the store writes the result with its
 * compare-and-set, so two clicks at once acknowledge once. Each returns null when nothing changes
 * (a second click, an unacknowledge of what nobody acknowledged), and never changes a resolved incident.
 */

const iso = (ms: number) => new Date(ms).toISOString();
const who = (actor: Actor) => ({ by: actor.name, userId: actor.id });

function changed(current: Incident, now: number, change: (incident: Incident) => TimelineEvent[]): Applied {
  const incident = structuredClone(current);
  const events = change(incident);
  incident.rev += 1;
  incident.changedAt = iso(now);
  return { incident, events, changed: true, marks: {} };
}

export function acknowledgeIncident(current: Incident, actor: Actor, now: number): Applied | null {
  if (current.state === 'resolved' || current.acknowledged !== null) return null;
  return changed(current, now, (incident) => {
    incident.acknowledged = { ...who(actor), via: actor.via, at: iso(now) };
    return [{ at: iso(now), kind: 'acknowledged', ...who(actor), via: actor.via }];
  });
}

export function unacknowledgeIncident(current: Incident, actor: Actor, now: number): Applied | null {
  if (current.state === 'resolved' || current.acknowledged === null) return null;
  return changed(current, now, (incident) => {
    incident.acknowledged = null;
    return [{ at: iso(now), kind: 'unacknowledged', ...who(actor), via: actor.via }];
  });
}

export interface NewSilence {
  untilMs: number;
  comment: string;
  silences: SilenceRef[];
  matchers: string[];
}

/** Records silences created on the Alertmanagers; null when the incident resolved or is silenced already (the caller expires them again). */
export function recordSilence(current: Incident, actor: Actor, silence: NewSilence, now: number): Applied | null {
  if (current.state === 'resolved' || current.silenced !== null) return null;
  return changed(current, now, (incident) => {
    const recorded: IncidentSilence = {
      until: iso(silence.untilMs),
      at: iso(now),
      ...who(actor),
      via: actor.via,
      comment: silence.comment,
      silences: silence.silences,
      matchers: silence.matchers,
    };
    incident.silenced = recorded;
    return [{ at: iso(now), kind: 'silenced', ...who(actor), via: actor.via, until: recorded.until, comment: silence.comment, silences: silence.silences }];
  });
}

/**
 * The incident is silenced no more: someone expired its silences, or they ended (`expired`, with
 * the silence's own author). `silences`: the ones this call expired; a concurrent silence that
 * replaced them is left alone. Unlike the others it applies to a resolved incident too, whose
 * silences may outlive it.
 */
export function recordUnsilence(current: Incident, actor: Actor, expired: boolean, silences: readonly SilenceRef[], now: number): Applied | null {
  if (current.silenced === null || !sameSilences(current.silenced.silences, silences)) return null;
  return changed(current, now, (incident) => {
    incident.silenced = null;
    return [{ at: iso(now), kind: 'unsilenced', ...who(actor), via: actor.via, expired }];
  });
}

/** A silence attempt that left nothing behind, on the timeline only (no channel needs to hear of it). */
export function recordSilenceFailure(current: Incident, actor: Actor, errors: string[], now: number): Applied {
  return { incident: current, events: [{ at: iso(now), kind: 'silence_failed', ...who(actor), via: actor.via, errors }], changed: false, marks: {} };
}

/** PagerDuty says its incident was reassigned: the timeline keeps it, the channels need not hear of it. */
export function recordReassignment(current: Incident, actor: Actor, to: string[], now: number): Applied {
  return { incident: current, events: [{ at: iso(now), kind: 'pagerduty_reassigned', ...who(actor), to }], changed: false, marks: {} };
}

/**
 * PagerDuty resolved its incident. Ours resolves on its own alerts only: when it still burns, that
 * is shown ("resolved in PagerDuty while still burning") and a later escalation pages again.
 */
export function recordPagerDutyResolve(current: Incident, actor: Actor, now: number): Applied {
  const whileBurning = current.state !== 'resolved';
  const event: TimelineEvent = { at: iso(now), kind: 'pagerduty_resolved', ...who(actor), whileBurning };
  if (!whileBurning || current.pagerdutyResolved) return { incident: current, events: [event], changed: false, marks: {} };
  return changed(current, now, (incident) => {
    incident.pagerdutyResolved = { at: iso(now), by: actor.name };
    return [event];
  });
}

/** Whether PagerDuty holds nothing open for the incident: resolved there, and no escalation since. */
export function resolvedInPagerDuty(incident: Incident): boolean {
  const resolved = incident.pagerdutyResolved;
  if (!resolved || incident.state === 'resolved') return false;
  return !incident.lastEscalatedAt || incident.lastEscalatedAt <= resolved.at;
}

function sameSilences(a: readonly SilenceRef[], b: readonly SilenceRef[]): boolean {
  const key = (refs: readonly SilenceRef[]) =>
    refs
      .map((ref) => `${ref.alertmanager} ${ref.id}`)
      .sort()
      .join('\n');
  return key(a) === key(b);
}
