import { figuresDigest, statusDigest } from '../incidents/figures.js';
import type { IncidentStore } from '../incidents/store.js';
import type { Incident, SyncDecision, TimelineEvent, Told } from '../incidents/types.js';
import { DeliveryError, type IncidentNotifier, type SyncContext, type SyncResult } from '../notifiers/types.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { ReplicaAckLostError } from '../queue/replica-ack.js';
import type { SyncJobData } from '../queue/syncs.js';
import { needsUpdate, reminderDueAt } from '../sync/decide.js';

export interface SyncDeps {
  store: IncidentStore;
  /** The notifier of a receiver in the routing config in force now (it may be reloaded). */
  notifierFor: (receiver: string) => IncidentNotifier | undefined;
  /** DELIVERY_TIMEOUT: the deadline of one attempt. */
  timeoutMs: number;
  /** JOB_LOCK_DURATION: a run's claim on its (incident, receiver) lasts this long unless renewed, so a crashed run's ends with its job's lock. */
  claimMs: number;
  metrics: Metrics;
  logger: Logger;
  /** Tells the AlertCenter page that an incident's receivers changed (src/ui/events.ts); optional. */
  onIncidentChanged?: (id: string) => void;
}

export type SyncOutcome =
  | { kind: 'sent'; decision: SyncDecision; action: string }
  | { kind: 'nothing'; decision: SyncDecision }
  /** The channel wants updates spaced out (Slack's chat.update): run again at `until`. */
  | { kind: 'deferred'; decision: SyncDecision; until: number }
  /** Another run of this (incident, receiver) is under way: run again at `until`, and find what it said. */
  | { kind: 'busy'; until: number };

/** A run that finds another under way looks again this much later. */
const BUSY_RETRY_MS = 1_000;

/** This run's claim on its (incident, receiver) is gone: another run may be under way. */
class ClaimLostError extends Error {
  override name = 'ClaimLostError';
}

/** Runs of one sync in a row when failovers keep taking the connection before it could send. */
const RUNS_ACROSS_FAILOVERS = 3;

/**
 * Brings one receiver up to date with one incident: read the incident and what the receiver was
 * told (decide), have the notifier say the difference (send), and record what it was told (log).
 * Throws the notifier's DeliveryError: the queue retries the retryable ones.
 *
 * One run of a pair at a time: a run claims it first and checks it still holds the claim just
 * before it sends. When the connection is lost before the attempt mark is known to be on a
 * replica (a failover), nothing was sent: the sync runs again at once, on the master there is now.
 * That master may have lost the incident (the webhook, run again, opens it anew and syncs it:
 * nothing to say here) or kept it (say it now). Left to the queue's retry instead, the job's state
 * on the new master can be one that bullmq never runs again, and the notification would be lost.
 */
export async function syncReceiver(data: SyncJobData, deps: SyncDeps, now = Date.now()): Promise<SyncOutcome> {
  const { incidentId, receiver } = data;
  const busy = (): SyncOutcome => ({ kind: 'busy', until: Date.now() + BUSY_RETRY_MS });
  let claim = await deps.store.claimSync(incidentId, receiver, deps.claimMs);
  if (claim === null) return busy();
  const renewal = setInterval(() => void deps.store.extendClaim(incidentId, receiver, claim!, deps.claimMs).catch(() => undefined), deps.claimMs / 2);
  try {
    for (let run = 1; ; run++) {
      try {
        return await syncOnce(data, deps, now, () => deps.store.extendClaim(incidentId, receiver, claim!, deps.claimMs));
      } catch (error) {
        if (!(error instanceof ReplicaAckLostError || error instanceof ClaimLostError) || run === RUNS_ACROSS_FAILOVERS) throw error;
        // The claim may have gone with the old master.
        if (!(await deps.store.extendClaim(incidentId, receiver, claim, deps.claimMs))) {
          claim = await deps.store.claimSync(incidentId, receiver, deps.claimMs);
          if (claim === null) return busy();
        }
      }
    }
  } finally {
    clearInterval(renewal);
    if (claim !== null) await deps.store.releaseClaim(incidentId, receiver, claim).catch(() => undefined);
  }
}

async function syncOnce({ incidentId, receiver }: SyncJobData, deps: SyncDeps, now: number, stillClaimed: () => Promise<boolean>): Promise<SyncOutcome> {
  const incident = await deps.store.get(incidentId);
  // Forgotten after the retention: nothing left to say.
  if (incident === null) return { kind: 'nothing', decision: 'up_to_date' };
  const notifier = deps.notifierFor(receiver);
  if (!notifier) throw new DeliveryError('not_found', `receiver "${receiver}" is no longer in the routing configuration`, false);
  const told = await deps.store.toldOne(incidentId, receiver);
  const decide = (entry: Told | null) => needsUpdate(incident, receiver, entry, { now, interests: notifier.interests, channel: notifier.kind });
  const decision = decide(told);
  deps.metrics.syncDecisions.inc({ channel: notifier.kind, decision });
  if (decision === 'up_to_date' || decision === 'not_routed') {
    // Up to date with this rev too (a change this channel does not show): the log says so, so the API shows it as sent.
    let changed = false;
    if (told !== null && told.rev < incident.rev)
      changed = await deps.store.recordTold(incidentId, receiver, { ...told, rev: incident.rev, ...marksOf(incident) }, []);
    if (await deps.store.settleFailing(incidentId, receiver)) {
      await deps.store.appendTimeline(incidentId, [
        { at: new Date(now).toISOString(), kind: 'notification_settled', receiver, channel: notifier.kind, decision },
      ]);
      changed = true;
    }
    if (changed) deps.onIncidentChanged?.(incidentId);
    return { kind: 'nothing', decision };
  }
  if (told !== null && notifier.minUpdateIntervalMs > 0 && now < told.lastAt + notifier.minUpdateIntervalMs) {
    return { kind: 'deferred', decision, until: told.lastAt + notifier.minUpdateIntervalMs };
  }

  const uncertain = await deps.store.startAttempt(incidentId, receiver);
  if (!(await stillClaimed())) throw new ClaimLostError(`the claim on the sync of ${incidentId} to ${receiver} is gone`);
  const result = await notifyWithin(notifier, { receiver, incident, told, decision, uncertain, now }, deps.timeoutMs);
  const sentAt = Date.now();
  const entry = toldAfter(incident, told, decision, result, sentAt);
  const event: TimelineEvent = {
    at: new Date(sentAt).toISOString(),
    kind: 'notification_sent',
    receiver,
    channel: notifier.kind,
    decision,
    action: result.action,
    receipt: result.receipt,
  };
  await deps.store.recordTold(incidentId, receiver, entry, [event]);
  await deps.store.settleFailing(incidentId, receiver);
  deps.onIncidentChanged?.(incidentId);
  const reminder = reminderDueAt(incident, receiver, entry);
  if (reminder !== null) await deps.store.dueNoLaterThan(incidentId, reminder);

  deps.metrics.notificationsSent.inc({ receiver, channel: notifier.kind });
  deps.metrics.deliveryLatency.observe({ receiver, channel: notifier.kind }, (sentAt - Date.parse(incident.changedAt)) / 1000);
  deps.logger.info(
    { incident: incidentId, receiver, channel: notifier.kind, decision, action: result.action, rev: incident.rev, receipt: result.receipt },
    'incident notification sent',
  );
  // Two changes at once (an escalation and an acknowledgement): the second is said in a run of its own.
  const next = decide(entry);
  if (next !== 'up_to_date' && next !== 'not_routed')
    return { kind: 'deferred', decision: next, until: Math.max(Date.now(), sentAt + notifier.minUpdateIntervalMs) };
  return { kind: 'sent', decision, action: result.action };
}

/** Puts a failed attempt on the incident's timeline; `final`: it is dead-lettered. */
export async function recordSyncFailure(
  { incidentId, receiver }: SyncJobData,
  error: DeliveryError,
  attempt: { number: number; final: boolean; channel: string },
  deps: Pick<SyncDeps, 'store' | 'onIncidentChanged'>,
): Promise<void> {
  const at = new Date().toISOString();
  const decision: SyncDecision = 'up_to_date';
  const event: TimelineEvent = attempt.final
    ? { at, kind: 'notification_dead_lettered', receiver, channel: attempt.channel, decision, reason: error.reason, error: error.message }
    : { at, kind: 'notification_failed', receiver, channel: attempt.channel, decision, reason: error.reason, error: error.message, attempt: attempt.number };
  await deps.store.appendTimeline(incidentId, [event]);
  await deps.store.markFailing(incidentId, receiver);
  deps.onIncidentChanged?.(incidentId);
  // The channel answered with an error: nothing reached it, so the next attempt needs no look-up.
  if (!UNCERTAIN_REASONS.has(error.reason)) await deps.store.clearAttempt(incidentId, receiver);
}

/** Failures after which the notification may or may not have reached the channel. */
const UNCERTAIN_REASONS = new Set(['timeout', 'network', 'unknown', 'invalid_response']);

/** What a channel shows of acknowledgements and silences, for a channel that needs not hear of them. */
function marksOf(incident: Incident): Pick<Told, 'acknowledged' | 'status'> {
  return { acknowledged: incident.acknowledged !== null, status: statusDigest(incident) };
}

function toldAfter(incident: Incident, told: Told | null, decision: SyncDecision, result: SyncResult, sentAt: number): Told {
  const saysAcknowledgement = decision === 'acknowledged' || decision === 'unacknowledged';
  return {
    rev: incident.rev,
    state: incident.state,
    severity: incident.severity,
    figures: figuresDigest(incident),
    // Said by its own decision (PagerDuty's acknowledge event, Slack's thread reply), even when the message shows it already.
    acknowledged: saysAcknowledgement ? incident.acknowledged !== null : (told?.acknowledged ?? false),
    status: statusDigest(incident),
    firstAt: told?.firstAt ?? sentAt,
    lastAt: sentAt,
    receipt: { ...told?.receipt, ...result.receipt },
    sent: (told?.sent ?? 0) + 1,
  };
}

/** `notify` with a hard deadline, so a peer that never answers cannot hold a worker slot. */
async function notifyWithin(notifier: IncidentNotifier, context: SyncContext, timeoutMs: number): Promise<SyncResult> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new DeliveryError('timeout', `no answer within ${timeoutMs} ms`, true);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    return await Promise.race([notifier.notify(context, controller.signal), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
