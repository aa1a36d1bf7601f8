import { type Alertmanagers, AlertmanagersUnavailableError, filtersOf } from '../alertmanager/client.js';
import { incidentMatchers, matcherText } from '../alertmanager/matchers.js';
import {
  acknowledgeIncident,
  recordPagerDutyResolve,
  recordReassignment,
  recordSilence,
  recordSilenceFailure,
  recordUnsilence,
  unacknowledgeIncident,
} from '../incidents/actions.js';
import { type Applied, clearAlerts, nextTickAt } from '../incidents/apply.js';
import type { IncidentStore } from '../incidents/store.js';
import type { Actor, Incident, SilenceRef } from '../incidents/types.js';
import type { Logger } from '../observability/logger.js';
import type { PlannedSync } from '../queue/syncs.js';
import type { RoutingConfig } from '../routing/types.js';
import { planSyncs } from './incidents.js';

/**
 * On-call's actions on an incident, wherever they come from (a Slack button, PagerDuty's webhook,
 * the API): the pure change (src/incidents/actions.ts) written with the store's compare-and-set,
 * then one sync per receiver, as for an alert. Silences are made on every Alertmanager first and
 * recorded only once all of them took it.
 */
export interface ActionDeps {
  store: IncidentStore;
  alertmanagers: Alertmanagers;
  routing: () => RoutingConfig;
  enqueue: (syncs: readonly PlannedSync[]) => Promise<void>;
  /** PUBLIC_URL: the silence's comment links back to the incident there. */
  publicUrl: string | undefined;
  /** ALERTMANAGER_CHECK_INTERVAL. */
  silenceCheckIntervalMs: number;
  /** Open AlertCenter pages hear of the change at once (the syncs that follow publish again). */
  onIncidentChanged?: (id: string) => void;
  logger: Logger;
}

export type ActionFailure = 'not_found' | 'resolved' | 'already_silenced' | 'alertmanager_unavailable';

/** An action refused, with why: the API answers 404, 409 or 502; Slack says it in an ephemeral message. */
export class ActionError extends Error {
  constructor(
    readonly reason: ActionFailure,
    message: string,
  ) {
    super(message);
    this.name = 'ActionError';
  }
}

export interface ActionOutcome {
  incident: Incident;
  /** False when the action changed nothing (a second click, unsilencing what is not silenced). */
  changed: boolean;
}

/** Where the AlertCenter page shows the incident; null without PUBLIC_URL. */
export function incidentPageUrl(publicUrl: string | undefined, id: string): string | null {
  return publicUrl === undefined ? null : `${publicUrl}/incidents/${encodeURIComponent(id)}`;
}

export async function acknowledge(id: string, actor: Actor, deps: ActionDeps, now = Date.now()): Promise<ActionOutcome> {
  return change(id, deps, (incident) => {
    if (incident.state === 'resolved') throw new ActionError('resolved', `incident ${id} is resolved: there is nothing to acknowledge`);
    return acknowledgeIncident(incident, actor, now);
  });
}

export async function unacknowledge(id: string, actor: Actor, deps: ActionDeps, now = Date.now()): Promise<ActionOutcome> {
  return change(id, deps, (incident) => unacknowledgeIncident(incident, actor, now));
}

export interface SilenceRequest {
  durationMs: number;
  /** What the person said; the silence's comment adds a link back to the incident. */
  comment: string;
}

/**
 * Silences the incident's alerts on every Alertmanager for `durationMs`. Throws ActionError:
 * `not_found`, `resolved`, `already_silenced`, or `alertmanager_unavailable` when not every
 * Alertmanager took it (then none keeps it, and the timeline says so).
 */
export async function silence(id: string, actor: Actor, request: SilenceRequest, deps: ActionDeps, now = Date.now()): Promise<ActionOutcome> {
  const incident = await existing(id, deps);
  if (incident.state === 'resolved') throw new ActionError('resolved', `incident ${id} is resolved: its alerts no longer fire, there is nothing to silence`);
  if (incident.silenced !== null)
    throw new ActionError('already_silenced', `incident ${id} is silenced until ${incident.silenced.until} by ${incident.silenced.by}: unsilence it first`);
  const matchers = incidentMatchers(incident);
  const untilMs = now + request.durationMs;
  const link = incidentPageUrl(deps.publicUrl, id) ?? `AlertCenter incident ${id}`;
  const said = request.comment.trim();
  let silences: SilenceRef[];
  try {
    silences = await deps.alertmanagers.silence({
      matchers,
      startsAt: new Date(now).toISOString(),
      endsAt: new Date(untilMs).toISOString(),
      createdBy: actorLabel(actor),
      comment: `${said === '' ? `Silenced from ${SOURCE_NAMES[actor.via]}` : said} (${incident.title}: ${link})`,
    });
  } catch (error) {
    if (!(error instanceof AlertmanagersUnavailableError)) throw error;
    const errors = error.failures.map((failure) => failure.message);
    await deps.store.updateById(id, (current) => recordSilenceFailure(current, actor, errors.length > 0 ? errors : [error.message], now), nextTickAt);
    deps.logger.warn({ incident: id, errors, by: actor.name, via: actor.via }, 'silence not created: not every Alertmanager took it');
    throw new ActionError('alertmanager_unavailable', `no silence was created: ${error.message}`);
  }
  const recorded = { untilMs, comment: said, silences, matchers: matchers.map(matcherText) };
  const applied = await deps.store.updateById(id, (current) => recordSilence(current, actor, recorded, now), nextTickAt);
  if (applied === null) {
    // Silenced by someone else meanwhile, or resolved: keep theirs, take ours back.
    const failures = await deps.alertmanagers.expire(silences);
    if (failures.length > 0) deps.logger.warn({ incident: id, errors: failures.map((failure) => failure.message) }, 'could not expire a silence made twice');
    return { incident: (await deps.store.get(id)) ?? incident, changed: false };
  }
  await deps.store.setSilenceCheck(id, Math.min(now + deps.silenceCheckIntervalMs, untilMs));
  await told(applied, deps);
  deps.logger.info({ incident: id, by: actor.name, via: actor.via, until: recorded.untilMs, silences }, 'incident silenced');
  return { incident: applied.incident, changed: true };
}

/** Expires the incident's silences on their Alertmanagers; recorded only once every one is expired. */
export async function unsilence(id: string, actor: Actor, deps: ActionDeps, now = Date.now()): Promise<ActionOutcome> {
  const incident = await existing(id, deps);
  if (incident.silenced === null) return { incident, changed: false };
  const { silences } = incident.silenced;
  const failures = await deps.alertmanagers.expire(silences);
  if (failures.length > 0) {
    throw new ActionError('alertmanager_unavailable', `the silence is still in force: ${failures.map((failure) => failure.message).join('; ')}`);
  }
  const outcome = await change(id, deps, (current) => recordUnsilence(current, actor, false, silences, now));
  // The silence ends now: whatever resolved while it held never reached the webhook.
  if (outcome.changed) await deps.store.setSilenceCheck(id, now);
  return outcome;
}

/** What PagerDuty's webhook says was done to the incident it paged for. */
export type PagerDutyChange = { kind: 'acknowledged' } | { kind: 'unacknowledged' } | { kind: 'reassigned'; to: string[] } | { kind: 'resolved' };

export async function applyPagerDutyChange(id: string, actor: Actor, pagerDuty: PagerDutyChange, deps: ActionDeps, now = Date.now()): Promise<ActionOutcome> {
  return change(id, deps, (incident) => {
    switch (pagerDuty.kind) {
      case 'acknowledged':
        return acknowledgeIncident(incident, actor, now);
      case 'unacknowledged':
        return unacknowledgeIncident(incident, actor, now);
      case 'reassigned':
        return recordReassignment(incident, actor, pagerDuty.to, now);
      case 'resolved':
        return recordPagerDutyResolve(incident, actor, now);
    }
  });
}

/**
 * Looks up the alerts of the silenced incidents that are due (ALERTMANAGER_CHECK_INTERVAL, and
 * when a silence ends): a silenced alert's resolve never reaches the webhook, so an alert that no
 * Alertmanager lists any more is resolved here, and the incident resolves as it would have. A
 * silence that ended is recorded as such. Safe on every replica at once. Returns how many it looked at.
 */
export async function checkSilencedIncidents(now: number, deps: ActionDeps, batch = 20): Promise<number> {
  const ids = await deps.store.silenceChecksDue(now, batch);
  for (const id of ids) {
    try {
      await checkSilenced(id, deps, now);
    } catch (error) {
      deps.logger.warn({ incident: id, err: String(error) }, 'could not check a silenced incident; retrying later');
      await deps.store.setSilenceCheck(id, now + deps.silenceCheckIntervalMs);
    }
  }
  return ids.length;
}

async function checkSilenced(id: string, deps: ActionDeps, now: number): Promise<void> {
  let incident = await deps.store.get(id);
  if (incident === null) return deps.store.setSilenceCheck(id, null);
  const marks = incident.state === 'resolved' ? {} : await deps.store.alerts(id, Number.POSITIVE_INFINITY);
  if (incident.state !== 'resolved' && Object.keys(marks).length > 0) {
    const filters = incident.silenced?.matchers ?? filtersOf(incidentMatchers(incident));
    try {
      const { fingerprints, failures } = await deps.alertmanagers.firing(filters);
      if (failures.length > 0)
        deps.logger.warn({ incident: id, errors: failures.map((failure) => failure.message) }, 'some Alertmanagers did not answer; trusting the others');
      const applied = await deps.store.updateById(id, (current) => clearAlerts(current, marks, fingerprints, now), nextTickAt);
      if (applied !== null) {
        incident = applied.incident;
        await told(applied, deps);
        deps.logger.info({ incident: id, state: incident.state }, 'alerts of a silenced incident resolved while silenced');
      }
    } catch (error) {
      if (!(error instanceof AlertmanagersUnavailableError)) throw error;
      deps.logger.warn({ incident: id, err: error.message }, 'no Alertmanager answered for a silenced incident; retrying later');
    }
  }
  const silenced = incident.silenced;
  if (silenced !== null && Date.parse(silenced.until) <= now) {
    const author: Actor = { name: silenced.by, id: silenced.userId, via: silenced.via };
    await change(id, deps, (current) => recordUnsilence(current, author, true, silenced.silences, now)).catch((error: unknown) => {
      if (!(error instanceof ActionError)) throw error;
    });
    return deps.store.setSilenceCheck(id, null);
  }
  if (silenced === null) return deps.store.setSilenceCheck(id, null);
  await deps.store.setSilenceCheck(id, Math.min(now + deps.silenceCheckIntervalMs, Date.parse(silenced.until)));
}

const SOURCE_NAMES = { slack: 'Slack', pagerduty: 'PagerDuty', api: 'the AlertCenter API' } as const;

/** How Alertmanager's silence list names who made it: `@alice (Slack U123)`, `alice (AlertCenter API)`. */
function actorLabel(actor: Actor): string {
  if (actor.via === 'slack') return `@${actor.name} (Slack${actor.id === null ? '' : ` ${actor.id}`})`;
  return `${actor.name} (${actor.via === 'api' ? 'AlertCenter API' : 'PagerDuty'})`;
}

async function existing(id: string, deps: ActionDeps): Promise<Incident> {
  const incident = await deps.store.get(id);
  if (incident === null) throw new ActionError('not_found', `no incident with id ${JSON.stringify(id)}`);
  return incident;
}

/** Applies `compute` with the store's compare-and-set; a change is told to the receivers. */
async function change(id: string, deps: ActionDeps, compute: (incident: Incident) => Applied | null): Promise<ActionOutcome> {
  await existing(id, deps);
  const applied = await deps.store.updateById(id, compute, nextTickAt);
  if (applied === null) return { incident: (await deps.store.get(id))!, changed: false };
  await told(applied, deps);
  return { incident: applied.incident, changed: applied.changed };
}

async function told(applied: Applied, deps: ActionDeps): Promise<void> {
  if (!applied.changed) return;
  deps.onIncidentChanged?.(applied.incident.id);
  const syncs = planSyncs(applied.incident, deps.routing());
  if (syncs.length > 0) await deps.enqueue(syncs);
}
