import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { normalizePayload, routingLabels } from '../alerts/normalize.js';
import type { WebhookPayload } from '../alerts/schema.js';
import type { SloCatalog } from '../alerts/slo-catalog.js';
import type { NormalizedAlert, Severity } from '../alerts/types.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { routeAlert } from '../routing/route.js';
import type { RoutingConfig } from '../routing/types.js';
import type { AlertState } from './alert-state.js';
import type { DeliveryQueues, PlannedDelivery } from './deliveries.js';
import type { IngestJobData } from './ingest.js';
import { INGEST_QUEUE } from './names.js';
import { logWorkerError } from './redis.js';

interface IngestWorkerDeps {
  connection: Redis;
  prefix: string;
  catalog: SloCatalog;
  defaultSeverity: Severity;
  /** The routing configuration in force now (hot-reloaded). */
  routing: () => RoutingConfig;
  deliveries: DeliveryQueues;
  alertState: AlertState;
  /** JOB_LOCK_DURATION: a job of a crashed router runs again about this long after the crash. */
  lockMs: number;
  metrics: Metrics;
  logger: Logger;
  /** Webhooks processed at a time. */
  concurrency: number;
}

/**
 * Turns each stored webhook into delivery jobs: normalize every alert, route it, and add one job
 * per (alert, receiver). Re-running a job after a crash is safe: the delivery queues deduplicate.
 */
export function startIngestWorker(deps: IngestWorkerDeps): Worker<IngestJobData> {
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

  const processor = async (job: Job<IngestJobData>) => {
    const firstAttempt = job.attemptsMade === 0;
    const alerts = normalizePayload(job.data.payload as WebhookPayload, {
      catalog: deps.catalog,
      defaultSeverity: deps.defaultSeverity,
      onUnknownSeverity: () => firstAttempt && metrics.severityDefaulted.inc(),
    });
    const config = deps.routing();
    const planned = alerts.flatMap((alert) => {
      if (firstAttempt) metrics.alertsReceived.inc({ status: alert.status, severity: alert.severity });
      return route(alert, job.data.acceptedAt, config);
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
    return { alerts: alerts.length };
  };

  const worker = new Worker<IngestJobData>(INGEST_QUEUE, processor, {
    connection: deps.connection,
    prefix: deps.prefix,
    concurrency: deps.concurrency,
    lockDuration: deps.lockMs,
    stalledInterval: deps.lockMs,
    skipVersionCheck: true,
  });
  worker.on('failed', (job, error) =>
    logger.error({ err: error, jobId: job?.id, attempt: job?.attemptsMade }, 'webhook processing failed'),
  );
  worker.on('error', logWorkerError(deps.connection, logger, { worker: INGEST_QUEUE }));
  return worker;
}
