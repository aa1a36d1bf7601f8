import { randomUUID } from 'node:crypto';
import { routingLabels } from '../alerts/normalize.js';
import type { NormalizedAlert } from '../alerts/types.js';
import { type AlertCopy, applyAlerts, nextTickAt, tickIncident } from '../incidents/apply.js';
import { type IncidentKey, incidentKeyOf } from '../incidents/key.js';
import type { IncidentStore } from '../incidents/store.js';
import type { Incident, IncidentPolicy, IncidentReceiver, Told } from '../incidents/types.js';
import type { Metrics } from '../observability/metrics.js';
import type { PlannedSync } from '../queue/syncs.js';
import { routeAlert } from '../routing/route.js';
import type { RoutingConfig, RoutingDecision } from '../routing/types.js';
import { reminderDueAt } from '../sync/decide.js';

/** The alerts of one webhook that belong to one incident key, with the route settings that keyed them. */
export interface IncidentBatch {
  key: IncidentKey;
  policy: IncidentPolicy;
  copies: AlertCopy[];
}

/** An alert as received, with where it routes (its labels, its severity as received). */
export interface RoutedAlert {
  alert: NormalizedAlert;
  decision: RoutingDecision;
}

/** Routes each alert of a webhook once: its incident settings, and the routing metrics, come from it. */
export function routeAlerts(alerts: readonly NormalizedAlert[], config: RoutingConfig, now: Date): RoutedAlert[] {
  return alerts.map((alert) => ({ alert, decision: routeAlert(config, routingLabels(alert), now) }));
}

/** Groups alerts by incident key: the first route each alert matches says how (`incident_by`), and its settings. */
export function batchByIncident(routed: readonly RoutedAlert[], acceptedAt: number): IncidentBatch[] {
  const batches = new Map<string, IncidentBatch>();
  for (const { alert, decision } of routed) {
    const { incident } = decision;
    const key = incidentKeyOf(alert, incident.incidentBy);
    const batch = batches.get(key.key);
    if (batch) batch.copies.push({ alert, acceptedAt });
    else {
      const policy = { route: incident.route, staleAfterMs: incident.staleAfterMs, resolveHoldMs: incident.resolveHoldMs };
      batches.set(key.key, { key, policy, copies: [{ alert, acceptedAt }] });
    }
  }
  return [...batches.values()];
}

export interface UpdatedIncident {
  /** The incident the alerts belong to now; null when they belong to none (a resolve of nothing open). */
  incident: Incident | null;
  /** True when receivers may need to hear about it. */
  changed: boolean;
}

/** Batches of one incident key waiting for the update of that key in flight, with who waits for them. */
interface Waiting {
  batches: IncidentBatch[];
  config: RoutingConfig;
  now: number;
  settle: Array<{ resolve: (result: UpdatedIncident) => void; reject: (error: unknown) => void }>;
}

/** By store (each router of a process has its own), by incident key. */
const waitingByStore = new WeakMap<IncidentStore, Map<string, Waiting>>();
const updatingByStore = new WeakMap<IncidentStore, Set<string>>();

/**
 * Applies one batch to its incident in Redis, atomically (see IncidentStore.updateByKey). In a storm
 * every webhook of an SLO updates the same incident: within this process the updates of one key run
 * one at a time, and the batches that arrive meanwhile are applied together in the next update, one
 * read and one write for all of them, instead of compare-and-set writes that mostly conflict.
 */
export function updateIncident(batch: IncidentBatch, store: IncidentStore, config: RoutingConfig, now: number): Promise<UpdatedIncident> {
  const waiting = waitingByStore.get(store) ?? new Map<string, Waiting>();
  waitingByStore.set(store, waiting);
  const key = batch.key.key;
  return new Promise((resolve, reject) => {
    const entry = waiting.get(key);
    if (entry) {
      entry.batches.push(batch);
      entry.config = config;
      entry.now = Math.max(entry.now, now);
      entry.settle.push({ resolve, reject });
      return;
    }
    waiting.set(key, { batches: [batch], config, now, settle: [{ resolve, reject }] });
    void updateWhileWaiting(store, waiting, key);
  });
}

/** Takes the waiting batches of `key` until none is left; a second call while one runs leaves it to that one. */
async function updateWhileWaiting(store: IncidentStore, waiting: Map<string, Waiting>, key: string): Promise<void> {
  const updating = updatingByStore.get(store) ?? new Set<string>();
  updatingByStore.set(store, updating);
  if (updating.has(key)) return;
  updating.add(key);
  try {
    for (let entry = waiting.get(key); entry !== undefined; entry = waiting.get(key)) {
      waiting.delete(key);
      const merged: IncidentBatch = {
        key: entry.batches[0]!.key,
        policy: entry.batches.at(-1)!.policy,
        copies: entry.batches.flatMap((batch) => batch.copies),
      };
      try {
        const result = await applyBatch(merged, store, entry.config, entry.now);
        for (const { resolve } of entry.settle) resolve(result);
      } catch (error) {
        for (const { reject } of entry.settle) reject(error);
      }
    }
  } finally {
    updating.delete(key);
  }
}

async function applyBatch(batch: IncidentBatch, store: IncidentStore, config: RoutingConfig, now: number): Promise<UpdatedIncident> {
  let seen: Incident | null = null;
  const applied = await store.updateByKey(
    batch.key.key,
    batch.copies.map(({ alert }) => alert.fingerprint),
    (current, known) => {
      seen = current;
      return applyAlerts(current, known, batch.copies, {
        now,
        newId: () => randomUUID(),
        key: batch.key,
        policy: batch.policy,
        route: (labels) => routeAlert(config, labels, new Date(now)).deliveries,
      });
    },
    nextTickAt,
  );
  return applied === null ? { incident: seen, changed: false } : { incident: applied.incident, changed: applied.changed };
}

/** One sync per receiver the incident routes to now or was told before; receivers gone from the routing file are left out. */
export function planSyncs(incident: Incident, config: RoutingConfig, only?: ReadonlySet<string>): PlannedSync[] {
  return Object.keys(incident.receivers).flatMap((receiver) => {
    const kind = config.receivers.find((candidate) => candidate.name === receiver)?.kind;
    if (kind === undefined || (only !== undefined && !only.has(receiver))) return [];
    return [{ kind, incidentId: incident.id, receiver }];
  });
}

/**
 * The syncs an incident still needs although the copies at hand changed nothing. A router that
 * stopped (a crash, a failed enqueue) between writing an incident and queueing its syncs leaves
 * receivers behind, and the webhook, run again, finds the incident already written. A receiver is
 * behind when the incident changed since it was last told (and it was not told the resolve), or
 * when it was never told of an open incident that routes to it. One whose last attempt failed is
 * left to the queue (retrying) or to whoever re-drives its dead letter.
 */
export async function syncsStillDue(incident: Incident, config: RoutingConfig, store: IncidentStore): Promise<PlannedSync[]> {
  const [told, failing] = await Promise.all([store.told(incident.id), store.failingReceivers(incident.id)]);
  const behind = Object.entries(incident.receivers)
    .filter(([name, receiver]) => !failing.has(name) && isBehind(incident, receiver, told[name] ?? null))
    .map(([name]) => name);
  return behind.length === 0 ? [] : planSyncs(incident, config, new Set(behind));
}

function isBehind(incident: Incident, receiver: IncidentReceiver, told: Told | null): boolean {
  if (told === null) return receiver.routedNow && incident.state === 'open';
  return told.state !== 'resolved' && told.rev < incident.rev;
}

export interface TickDeps {
  store: IncidentStore;
  routing: () => RoutingConfig;
  enqueue: (syncs: readonly PlannedSync[]) => Promise<void>;
  metrics: Metrics;
  /** Tells the AlertCenter page that an incident changed (src/ui/events.ts); optional. */
  onIncidentChanged?: (id: string) => void;
}

/** How soon a due incident with a receiver still behind is looked at again: its syncs are queued, this is the safety net. */
const BEHIND_RECHECK_MS = 30_000;

/**
 * What time does: resolves incidents whose hold-down ended, marks stale tiers, and sends the
 * reminders that fell due. Safe on every replica at once: writes are compare-and-set, syncs are
 * deduplicated. An incident stays due while a receiver is behind it, so a crash between a resolve
 * decided here and its syncs is repaired by the next tick. Returns how many incidents it looked at.
 */
export async function tickDueIncidents(now: number, deps: TickDeps, batch = 100): Promise<number> {
  const ids = await deps.store.due(now, batch);
  for (const id of ids) {
    const applied = await deps.store.updateById(id, (incident) => tickIncident(incident, now), nextTickAt);
    if (applied?.changed) deps.onIncidentChanged?.(id);
    const incident = applied?.incident ?? (await deps.store.get(id));
    if (incident === null) {
      await deps.store.setDue(id, null);
      continue;
    }
    const config = deps.routing();
    const told = await deps.store.told(id);
    const reminders = Object.entries(told).map(([receiver, entry]) => [receiver, reminderDueAt(incident, receiver, entry)] as const);
    const remindNow = new Set(reminders.filter(([, at]) => at !== null && at <= now).map(([receiver]) => receiver));
    const behind = await syncsStillDue(incident, config, deps.store);
    const syncs = [...behind, ...planSyncs(incident, config, remindNow)];
    if (syncs.length > 0) await deps.enqueue(syncs);
    // A reminder sent now schedules the next one when it is recorded; until then, assume one interval.
    const reminderTimes = reminders.map(([receiver, at]) => (at === null ? null : at > now ? at : now + (incident.receivers[receiver]?.repeatIntervalMs ?? 0)));
    const later = [nextTickAt(incident), ...reminderTimes, behind.length > 0 ? now + BEHIND_RECHECK_MS : null].filter((at): at is number => at !== null);
    await deps.store.setDue(id, later.length === 0 ? null : Math.min(...later));
  }
  return ids.length;
}
