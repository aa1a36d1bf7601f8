import type { Redis } from 'ioredis';
import { normalizePayload, routingLabels } from '../alerts/normalize.js';
import { parseWebhookPayload } from '../alerts/schema.js';
import type { SloCatalog } from '../alerts/slo-catalog.js';
import type { NormalizedAlert, Severity } from '../alerts/types.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { routeAlert } from '../routing/route.js';
import type { RoutingConfig } from '../routing/types.js';
import type { AlertState } from './alert-state.js';
import type { DeliveryQueues, PlannedDelivery } from './deliveries.js';
import { ingestKeys, type IngestEntry } from './ingest.js';
import { IngestConsumer, UnprocessableEntryError } from './ingest-consumer.js';

interface IngestWorkerDeps {
  connection: Redis;
  prefix: string;
  catalog: SloCatalog;
  defaultSeverity: Severity;
  /** The routing configuration in force now (hot-reloaded). */
  routing: () => RoutingConfig;
  deliveries: DeliveryQueues;
  alertState: AlertState;
  /** JOB_LOCK_DURATION: a webhook a crashed router was processing goes through again about this long after the crash. */
  lockMs: number;
  metrics: Metrics;
  logger: Logger;
  /** Webhooks processed at a time. */
  concurrency: number;
}

/**
 * Turns each stored webhook into delivery jobs: normalize every alert, route it, and add one job
 * per (alert, receiver). Processing a webhook again after a crash is safe: the delivery queues deduplicate.
 */
export function startIngestWorker(deps: IngestWorkerDeps): IngestConsumer {
  const { metrics, logger } = deps;

  /** Routes one alert: its deliveries, with the routing metrics counted. */
  function route(alert: NormalizedAlert, acceptedAt: number, config: RoutingConfig): PlannedDelivery[] {
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

  const handle = async (entry: IngestEntry, attempt: number) => {
    const firstAttempt = attempt === 1;
    // Validated before the 202; only a schema changed by an upgrade since could refuse it now.
    const parsed = parseWebhookPayload(parseStored(entry.body));
    if (!parsed.ok) throw new UnprocessableEntryError(`stored webhook no longer valid: ${parsed.message}`);
    const alerts = normalizePayload(parsed.payload, {
      catalog: deps.catalog,
      defaultSeverity: deps.defaultSeverity,
      onUnknownSeverity: () => firstAttempt && metrics.severityDefaulted.inc(),
    });
    const config = deps.routing();
    const planned = alerts.flatMap((alert) => {
      if (firstAttempt) metrics.alertsReceived.inc({ status: alert.status, severity: alert.severity });
      return route(alert, entry.acceptedAt, config);
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
  };

  return new IngestConsumer({
    redis: deps.connection,
    keys: ingestKeys(deps.prefix),
    concurrency: deps.concurrency,
    lockMs: deps.lockMs,
    handle,
    logger,
  });
}

function parseStored(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch (error) {
    throw new UnprocessableEntryError(`stored webhook is not JSON: ${(error as Error).message}`);
  }
}
