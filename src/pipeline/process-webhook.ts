import { normalizePayload, routingLabels } from '../alerts/normalize.js';
import { parseWebhookPayload } from '../alerts/schema.js';
import type { SloCatalog } from '../alerts/slo-catalog.js';
import type { NormalizedAlert, Severity } from '../alerts/types.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { AlertState } from '../queue/alert-state.js';
import type { DeliveryQueues, PlannedDelivery } from '../queue/deliveries.js';
import { routeAlert } from '../routing/route.js';
import type { RoutingConfig } from '../routing/types.js';

/** One accepted webhook as the ingest queue stores it. */
export interface StoredWebhook {
  /** The request body as received: JSON validated before the 202. */
  body: string;
  /** Epoch ms at which the webhook was answered 202. */
  acceptedAt: number;
}

export interface ProcessWebhookDeps {
  catalog: SloCatalog;
  defaultSeverity: Severity;
  /** The routing configuration in force now (hot-reloaded). */
  routing: () => RoutingConfig;
  deliveries: Pick<DeliveryQueues, 'enqueueAll'>;
  alertState: Pick<AlertState, 'recordAll'>;
  metrics: Metrics;
  logger: Logger;
}

/** A stored webhook that no attempt can process (it no longer parses or validates): dead-letter it at once. */
export class UnprocessableWebhookError extends Error {
  override name = 'UnprocessableWebhookError';
}

/**
 * Turns one stored webhook into delivery jobs: normalize every alert, route it, and add one job per
 * (alert, receiver), then record the alerts' state. `attempt` counts from 1: the per-alert metrics
 * are counted on the first attempt only. Processing a webhook again (a retry, a crash) is safe: the
 * delivery queues deduplicate. Throws UnprocessableWebhookError for a body that no longer parses or
 * validates; any other error is worth a retry.
 */
export async function processWebhook(webhook: StoredWebhook, attempt: number, deps: ProcessWebhookDeps): Promise<void> {
  const { metrics, logger } = deps;
  const firstAttempt = attempt === 1;
  // Validated before the 202; only a schema changed by an upgrade since could refuse it now.
  const parsed = parseWebhookPayload(parseStored(webhook.body));
  if (!parsed.ok) throw new UnprocessableWebhookError(`stored webhook no longer valid: ${parsed.message}`);
  const alerts = normalizePayload(parsed.payload, {
    catalog: deps.catalog,
    defaultSeverity: deps.defaultSeverity,
    onUnknownSeverity: () => firstAttempt && metrics.severityDefaulted.inc(),
  });
  const config = deps.routing();
  const planned = alerts.flatMap((alert) => {
    if (firstAttempt) metrics.alertsReceived.inc({ status: alert.status, severity: alert.severity });
    return route(alert, webhook.acceptedAt, config, metrics);
  });
  // All of the webhook's jobs in one go: per job, a round trip would cost more than the job.
  const decisions = await deps.deliveries.enqueueAll(planned);
  const receivers = new Map<NormalizedAlert, string[]>(alerts.map((alert) => [alert, []]));
  planned.forEach(({ notification: { receiver, route, alert } }, i) => {
    const decision = decisions[i]!;
    logger.debug({ receiver, route, fingerprint: alert.fingerprint, status: alert.status, decision }, 'deduplication decision');
    if (decision === 'duplicate') metrics.notificationsDeduplicated.inc({ receiver });
    else metrics.notificationsRouted.inc({ route, receiver });
    receivers.get(alert)!.push(receiver);
  });
  await deps.alertState.recordAll([...receivers]);
}

/** Routes one alert: its deliveries, with the routing metrics counted. */
function route(alert: NormalizedAlert, acceptedAt: number, config: RoutingConfig, metrics: Metrics): PlannedDelivery[] {
  const decision = routeAlert(config, routingLabels(alert), new Date());
  if (decision.usedDefault) metrics.notificationsUnrouted.inc();
  for (const match of decision.matches) {
    if (match.mutedBy) metrics.notificationsMuted.inc({ route: match.route });
  }
  return decision.deliveries.map(({ route, receiver, repeatIntervalMs }) => ({
    kind: config.receivers.find((r) => r.name === receiver)!.kind,
    notification: { receiver, route, alert, acceptedAt },
    repeatIntervalMs,
  }));
}

function parseStored(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch (error) {
    throw new UnprocessableWebhookError(`stored webhook is not JSON: ${(error as Error).message}`);
  }
}
