import { normalizePayload } from '../alerts/normalize.js';
import { parseWebhookPayload } from '../alerts/schema.js';
import type { SloCatalog } from '../alerts/slo-catalog.js';
import type { NormalizedAlert, Severity } from '../alerts/types.js';
import type { IncidentStore } from '../incidents/store.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { AlertState } from '../queue/alert-state.js';
import type { PlannedSync } from '../queue/syncs.js';
import type { RoutingConfig } from '../routing/types.js';
import { batchByIncident, planSyncs, type RoutedAlert, routeAlerts, syncsStillDue, updateIncident } from './incidents.js';

/** A webhook as the api stored it: the body as received, and when it was answered 202. */
export interface StoredWebhook {
  body: string;
  acceptedAt: number;
}

export interface ProcessDeps {
  catalog: SloCatalog;
  defaultSeverity: Severity;
  /** The routing configuration in force now (hot-reloaded). */
  routing: () => RoutingConfig;
  store: IncidentStore;
  alertState: AlertState;
  enqueue: (syncs: readonly PlannedSync[]) => Promise<void>;
  metrics: Metrics;
  logger: Logger;
  /** Tells the AlertCenter page that an incident changed (src/ui/events.ts); optional. */
  onIncidentChanged?: (id: string) => void;
}

/** A stored webhook that can never be processed: retrying cannot help. */
export class UnprocessableWebhookError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnprocessableWebhookError';
  }
}

/**
 * One stored webhook through the pipeline: normalize its alerts, update their incidents, and plan a
 * sync for every receiver of each incident that changed, and for any receiver an unchanged
 * incident left behind. Running it again after a crash is safe: incident updates are idempotent,
 * syncs are deduplicated, and the syncs a crash kept from being queued are queued then.
 */
export async function processWebhook(webhook: StoredWebhook, attempt: number, deps: ProcessDeps): Promise<void> {
  const { metrics } = deps;
  const firstAttempt = attempt === 1;
  const alerts = normalize(webhook.body, deps, firstAttempt);
  const config = deps.routing();
  const now = Date.now();
  const routed = routeAlerts(alerts, config, new Date(now));
  if (firstAttempt) countRouting(routed, metrics);

  const incidentOf = new Map<NormalizedAlert, string | null>();
  const syncs: PlannedSync[] = [];
  await Promise.all(
    batchByIncident(routed, webhook.acceptedAt).map(async (batch) => {
      const { incident, changed } = await updateIncident(batch, deps.store, config, now);
      for (const { alert } of batch.copies) incidentOf.set(alert, incident?.id ?? null);
      metrics.alertCopies.inc({ outcome: changed ? 'changed' : 'unchanged' }, batch.copies.length);
      if (incident !== null && changed) {
        deps.onIncidentChanged?.(incident.id);
        const planned = planSyncs(incident, config);
        for (const sync of planned) metrics.notificationsRouted.inc({ route: incident.receivers[sync.receiver]!.route, receiver: sync.receiver });
        syncs.push(...planned);
      } else if (incident !== null) {
        // Written before, by this webhook's earlier run that stopped before queueing its syncs, perhaps.
        syncs.push(...(await syncsStillDue(incident, config, deps.store)));
      }
    }),
  );
  await deps.enqueue(syncs);
  await deps.alertState.recordAll(alerts.map((alert) => [alert, incidentOf.get(alert) ?? null] as const));
}

function normalize(body: string, deps: ProcessDeps, firstAttempt: boolean): NormalizedAlert[] {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw new UnprocessableWebhookError(`stored webhook is not JSON: ${(error as Error).message}`);
  }
  // Validated before the 202; only a schema changed by an upgrade since could refuse it now.
  const parsed = parseWebhookPayload(json);
  if (!parsed.ok) throw new UnprocessableWebhookError(`stored webhook no longer valid: ${parsed.message}`);
  return normalizePayload(parsed.payload, {
    catalog: deps.catalog,
    defaultSeverity: deps.defaultSeverity,
    onUnknownSeverity: () => firstAttempt && deps.metrics.severityDefaulted.inc(),
  });
}

/** The routing metrics of each alert as received. */
function countRouting(routed: readonly RoutedAlert[], metrics: Metrics): void {
  for (const { alert, decision } of routed) {
    metrics.alertsReceived.inc({ status: alert.status, severity: alert.severity });
    if (decision.usedDefault) metrics.notificationsUnrouted.inc();
    for (const match of decision.matches) if (match.mutedBy) metrics.notificationsMuted.inc({ route: match.route });
  }
}
