import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestHandler } from 'express';
import { Alertmanagers } from './alertmanager/client.js';
import { loadSloCatalog, type SloCatalog } from './alerts/slo-catalog.js';
import { createApp } from './api/app.js';
import { ApiError } from './api/errors.js';
import { alertsRouter } from './api/routes/alerts.js';
import { deadLettersRouter } from './api/routes/dead-letters.js';
import { healthRouter } from './api/routes/health.js';
import { incidentActionsRouter } from './api/routes/incident-actions.js';
import { incidentsRouter } from './api/routes/incidents.js';
import { metricsRouter } from './api/routes/metrics.js';
import { openApiRouter } from './api/routes/openapi.js';
import { pagerDutyWebhooksRoute } from './api/routes/pagerduty-webhooks.js';
import { reportsRouter } from './api/routes/reports.js';
import { routingRouter } from './api/routes/routing.js';
import { slackInteractionsRoute } from './api/routes/slack-interactions.js';
import { webhookRoute } from './api/routes/webhook.js';
import { type Config, isLoopback } from './config/env.js';
import { CHANNEL_KINDS } from './domain/channels.js';
import { IncidentStore } from './incidents/store.js';
import { buildNotifiers, closeNotifiers } from './notifiers/build.js';
import type { IncidentNotifier } from './notifiers/types.js';
import type { Logger } from './observability/logger.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { type ActionDeps, checkSilencedIncidents } from './pipeline/actions.js';
import { tickDueIncidents } from './pipeline/incidents.js';
import { processWebhook } from './pipeline/process-webhook.js';
import { respondEphemeral, runSlackAction } from './pipeline/slack-action.js';
import { recordSyncFailure, syncReceiver } from './pipeline/sync.js';
import { ActionQueue, startActionWorker } from './queue/actions.js';
import { AlertState } from './queue/alert-state.js';
import { DeadLetters } from './queue/dead-letters.js';
import { IngestProducer, ingestDeadLetterSource, openIngestQueue } from './queue/ingest.js';
import { IngestPace } from './queue/ingest-pace.js';
import { startIngestWorker } from './queue/ingest-worker.js';
import { incidentsTag, queuePrefix } from './queue/keys.js';
import { INGEST_QUEUE, QUEUE_STATES, syncQueueName } from './queue/names.js';
import { createConnection, type RedisClient, reportConnectionState } from './queue/redis.js';
import { ReplicaAck, ReplicaAckError } from './queue/replica-ack.js';
import { startSyncWorker } from './queue/sync-worker.js';
import { SyncQueues } from './queue/syncs.js';
import { ReportService, startReportScheduler } from './report/service.js';
import { RoutingStore } from './routing/store.js';
import type { RoutingConfig } from './routing/types.js';
import { createAccess, SessionStore } from './ui/access.js';
import { EventHub, type IncidentChanged, incidentPublisher } from './ui/events.js';
import { PrometheusSlos } from './ui/prometheus.js';
import { uiRouter } from './ui/routes.js';

export interface RunningRouter {
  url: string;
  server: Server;
  metrics: ReturnType<typeof createMetrics>;
  routing: RoutingStore;
  syncs: SyncQueues;
  incidents: IncidentStore;
  /** Re-reads the routing file (what SIGHUP does). */
  reloadRouting(): void;
  /** Stops accepting, finishes in-flight requests and jobs, closes Redis. */
  stop(): Promise<void>;
}

/**
 * The composition root: builds every part from a validated Config and starts them.
 * Throws (before listening) on a bad routing file or SLO catalog.
 */
export async function startRouter(config: Config, logger: Logger): Promise<RunningRouter> {
  const metrics = createMetrics();
  const catalog = loadSloCatalog(config.sloCatalogFile);

  // Three connections (src/queue/redis.ts): the webhook's writes fail fast, the workers wait out
  // outages, and what requests read (metrics, readiness, the admin API) fails faster still.
  const producerRedis = createConnection(config.redis, 'producer');
  const workerRedis = createConnection(config.redis, 'worker');
  const requestRedis = createConnection(config.redis, 'request');
  reportConnectionState(producerRedis, 'producer', logger);
  reportConnectionState(workerRedis, 'worker', logger);
  reportConnectionState(requestRedis, 'request', logger);
  const { minReplicasAck, replicaAckTimeoutMs } = config.redis;
  const workerAck = new ReplicaAck(workerRedis, minReplicasAck, replicaAckTimeoutMs);
  const onShortfall = shortfallReporter(metrics, logger);
  // Checked on every (re)connection: the Redis behind the URL may have been replaced.
  producerRedis.on('ready', () => void warnAboutRedisDurability(producerRedis, logger));

  const routing = new RoutingStore(config.routingFile, config.env, {
    onReload: (result) => {
      metrics.configReloadSuccessful.set(result.ok ? 1 : 0);
      if (result.ok) {
        metrics.configReloadSuccessTimestamp.set(Date.now() / 1000);
        pipeline?.reloadReceivers(result.config);
        logger.info({ file: config.routingFile, hash: routing.hash }, 'routing configuration loaded');
      } else {
        logger.error({ file: config.routingFile, err: result.error.message }, 'routing configuration refused; keeping the running one');
      }
    },
  });
  metrics.configReloadSuccessful.set(1);
  metrics.configReloadSuccessTimestamp.set(Date.now() / 1000);

  // A webhook whose processing fails is retried like a notification (DELIVERY_ATTEMPTS, DELIVERY_BACKOFF).
  const ingest = new IngestProducer(producerRedis, config.redisPrefix, config.delivery, new ReplicaAck(producerRedis, minReplicasAck, replicaAckTimeoutMs));
  const syncs = new SyncQueues(workerRedis, config.redisPrefix, config.delivery);
  const incidents = new IncidentStore(workerRedis, config.redisPrefix, workerAck.enabled ? { ack: workerAck, onShortfall } : undefined);
  const actionQueue = new ActionQueue(producerRedis, config.redisPrefix);
  const alertState = new AlertState(workerRedis, config.redisPrefix);
  // What requests read goes through the request connection: an outage is an answer, not a hang.
  const reads = {
    ingest: openIngestQueue(requestRedis, config.redisPrefix),
    syncs: new SyncQueues(requestRedis, config.redisPrefix, config.delivery),
    incidents: new IncidentStore(requestRedis, config.redisPrefix),
    alertState: new AlertState(requestRedis, config.redisPrefix),
  };
  const deadLetters = new DeadLetters([ingestDeadLetterSource(reads.ingest), ...reads.syncs.deadLetterSources(), actionQueue.deadLetterSource()]);
  // Incident changes, published for the AlertCenter pages of every api replica (src/ui/events.ts).
  const onIncidentChanged = incidentPublisher(producerRedis, config.redisPrefix, logger);
  const actionDeps: ActionDeps = {
    store: incidents,
    alertmanagers: new Alertmanagers(config.actions.alertmanagers, config.actions.alertmanagerTimeoutMs),
    routing: () => routing.current(),
    enqueue: (planned) => syncs.enqueue(planned),
    publicUrl: config.actions.publicUrl,
    silenceCheckIntervalMs: config.actions.silenceCheckIntervalMs,
    onIncidentChanged,
    logger,
  };
  const servesApi = config.role !== 'worker';
  // One process with the webhook: processing yields to a burst of webhooks (src/queue/ingest-pace.ts).
  const ingestPace = config.role === 'all' ? new IngestPace(ONE_PROCESS_INGEST_PACE) : undefined;
  const pipeline =
    config.role === 'api'
      ? undefined
      : startPipeline({
          config,
          redis: workerRedis,
          workerAck,
          onShortfall,
          routing,
          catalog,
          syncs,
          incidents,
          alertState,
          actionDeps,
          metrics,
          logger,
          onIncidentChanged,
          ingestPace,
        });

  // The weekly SLO report: the API on api replicas, the scheduled mail on workers (one mail a week whatever their number).
  // The API reads through the request connection (fails fast); the scheduled run through the workers' (waits out a blip).
  const reports = new ReportService({ config, catalog, incidents: reads.incidents });
  const scheduledReports = new ReportService({ config, catalog, incidents });
  const reportScheduler =
    config.role === 'api'
      ? Promise.resolve(null)
      : startReportScheduler({ service: scheduledReports, connection: workerRedis, prefix: config.redisPrefix, config, logger }).catch((error: unknown) => {
          logger.error({ err: (error as Error).message }, 'weekly SLO report scheduler failed to start');
          return null;
        });

  // The admin API takes ADMIN_TOKEN (or a VIEWER_TOKENS token, read only) as a bearer token, or the page's session cookie with its CSRF token.
  const sessions = new SessionStore(producerRedis, config.redisPrefix, config.ui.sessionTtlMs);
  const access = createAccess({ adminToken: config.adminToken, viewerTokens: config.ui.viewerTokens, sessions });
  const adminAuth = access.api;
  // The admin endpoints that read Redis: once authorized, a 503 at once when it is unreachable.
  const adminRedis = requireReady(adminAuth, requestRedis);
  const hub = new EventHub(producerRedis, config.redisPrefix, logger);
  const app = createApp({
    direct: servesApi
      ? [
          webhookRoute({ tokens: config.webhookTokens, maxBodyBytes: config.maxBodyBytes, ingest, metrics, logger, onAccepted: ingestPace?.accepted }),
          slackInteractionsRoute({
            signingSecrets: config.actions.slackSigningSecrets,
            maxBodyBytes: config.maxBodyBytes,
            redis: producerRedis,
            prefix: config.redisPrefix,
            store: incidents,
            actions: actionQueue,
            responseOrigins: new Set(['https://hooks.slack.com', new URL(config.channels.slack.apiUrl).origin]),
            metrics,
            logger,
          }),
          pagerDutyWebhooksRoute({
            secrets: config.actions.pagerdutyWebhookSecrets,
            maxBodyBytes: config.maxBodyBytes,
            redis: producerRedis,
            prefix: config.redisPrefix,
            actions: actionDeps,
            metrics,
            logger,
          }),
        ]
      : [],
    metrics,
    logger,
    routers: [
      healthRouter({
        check: async () => ({
          redis: await withDeadline(producerRedis.ping(), SCRAPE_DEADLINE_MS).then(
            () => true,
            () => false,
          ),
          routing: routing.current() !== undefined,
        }),
      }),
      metricsRouter(metrics, async () => {
        // Read together, within a deadline: during an outage the scrape answers at once with the
        // process's own figures, the Redis ones omitted (alertcenter_redis_figures_fresh 0).
        const figures = await withDeadline(
          Promise.all([reads.ingest.getJobCounts(...QUEUE_STATES), reads.syncs.counts(), reads.incidents.counts()]),
          SCRAPE_DEADLINE_MS,
        ).catch(() => undefined);
        metrics.queueDepth.reset();
        metrics.incidents.reset();
        metrics.redisFiguresFresh.set(figures ? 1 : 0);
        if (!figures) return;
        const [ingested, syncCounts, incidentCounts] = figures;
        for (const [queue, counts] of Object.entries({ [INGEST_QUEUE]: ingested, ...syncCounts })) {
          for (const [state, count] of Object.entries(counts)) metrics.queueDepth.set({ queue, state }, count);
        }
        metrics.incidents.set({ state: 'open' }, incidentCounts.open);
        metrics.incidents.set({ state: 'resolved' }, incidentCounts.total - incidentCounts.open);
      }),
      ...(servesApi
        ? [
            routingRouter(routing, catalog, config.defaultSeverity, adminAuth),
            deadLettersRouter(deadLetters, adminRedis),
            alertsRouter(reads.alertState, reads.syncs, adminRedis),
            incidentsRouter(reads.incidents, adminRedis),
            incidentActionsRouter(actionDeps, adminRedis),
            reportsRouter(reports, adminRedis),
            openApiRouter(),
            uiRouter({
              incidents: reads.incidents,
              routing,
              catalog,
              defaultSeverity: config.defaultSeverity,
              deadLetters,
              queueCounts: async () => ({ [INGEST_QUEUE]: await reads.ingest.getJobCounts(...QUEUE_STATES), ...(await reads.syncs.counts()) }),
              sessions,
              access,
              hub,
              prometheus: config.prometheus.url ? new PrometheusSlos(config.prometheus.url, catalog) : undefined,
              cookieSecure: config.ui.cookieSecure,
              slackWorkspaceUrl: config.ui.slackWorkspaceUrl,
              openSignIn: !config.adminToken,
              reports,
            }),
          ]
        : []),
    ],
  });

  const server = createServer(
    {
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: config.headersTimeoutMs,
      // Node looks for expired requests only this often (30 s by default), so a slow client outlived both timeouts.
      connectionsCheckingInterval: 1_000,
      keepAliveTimeout: 5_000,
    },
    app,
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  routing.watch();

  if (servesApi && config.webhookTokens.length === 0) {
    logger.warn({ host: config.host }, 'WEBHOOK_TOKENS is empty: the webhook takes unauthenticated requests, so the router listens on loopback only');
  }
  if (servesApi && !config.adminToken && isLoopback(config.host)) {
    logger.warn('ADMIN_TOKEN is empty: the admin API is open to local clients only');
  }
  logger.info({ url, role: config.role, routingFile: config.routingFile, receivers: pipeline?.receivers() ?? [] }, 'alertcenter router listening');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info('shutting down: no new requests, finishing in-flight requests and jobs');
      routing.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Open pages hold their event streams: end them (they reconnect to another replica), then
      // close the connections that this left idle.
      await hub.close();
      server.closeIdleConnections();
      await closed;
      // Without Redis no job can finish anyway, and bullmq's graceful close would wait for it forever.
      await pipeline?.stop(workerRedis.status !== 'ready');
      // Not waited for while it could not start (Redis down since start-up).
      await (await Promise.race([reportScheduler, Promise.resolve(null)]))?.close();
      await onIncidentChanged.flush();
      await Promise.all([ingest.close(), syncs.close(), actionQueue.close(), reads.ingest.close(), reads.syncs.close()]);
      for (const redis of [producerRedis, workerRedis, requestRedis]) {
        if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
        else redis.disconnect();
      }
      logger.info('shut down cleanly');
    })());

  return { url, server, metrics, routing, syncs, incidents, reloadRouting: () => routing.reload(), stop };
}

/** An alert router on a Redis that can drop data loses alerts: say so at start-up. */
async function warnAboutRedisDurability(redis: RedisClient, logger: Logger): Promise<void> {
  try {
    const [, appendonly] = (await redis.call('CONFIG', 'GET', 'appendonly')) as string[];
    const [, policy] = (await redis.call('CONFIG', 'GET', 'maxmemory-policy')) as string[];
    if (appendonly !== 'yes') {
      logger.warn('Redis runs without AOF persistence (appendonly no): queued alerts are lost if Redis restarts; enable it in production');
    }
    if (policy !== 'noeviction') {
      logger.warn({ policy }, 'Redis maxmemory-policy is not noeviction: under memory pressure Redis may evict queued alerts');
    }
    if (appendonly === 'yes' && policy === 'noeviction') logger.info('Redis durability checked: AOF on, maxmemory-policy noeviction');
  } catch {
    // CONFIG may be disabled on managed Redis; nothing to check then.
  }
}

interface PipelineDeps {
  config: Config;
  /** The workers' connection: blocking commands, retried for ever. */
  redis: RedisClient;
  /** REDIS_MIN_REPLICAS_ACK on the workers' connection. */
  workerAck: ReplicaAck;
  onShortfall: (error: Error) => void;
  routing: RoutingStore;
  catalog: SloCatalog;
  syncs: SyncQueues;
  incidents: IncidentStore;
  alertState: AlertState;
  actionDeps: ActionDeps;
  metrics: Metrics;
  logger: Logger;
  onIncidentChanged: IncidentChanged;
  /** ROLE=all: sets the ingest worker's concurrency from the webhook's rate. */
  ingestPace: IngestPace | undefined;
}

interface Pipeline {
  /** Rebuilds the receivers from a newly loaded routing config; deliveries then use the new ones. */
  reloadReceivers(routingConfig: RoutingConfig): void;
  receivers(): string[];
  /** Finishes the running jobs (`force`: without Redis none can finish, so do not wait) and closes the channels. */
  stop(force: boolean): Promise<void>;
}

/**
 * Webhooks processed at a time beside the webhook (ROLE=all). The webhooks processed at once share
 * their incident and alert-state writes: sixteen drained a backlog 1.3-1.6x as fast as two, at less
 * CPU per webhook, with the storm's webhook p99 unchanged; but during a load of thousands of
 * webhooks a second they took the event loop from the webhook (0.99x Alertmanager's ingest against
 * 1.48x with two). So two while more than 200 arrive a second, sixteen otherwise (bench/RESULTS.md).
 */
const ONE_PROCESS_INGEST_PACE = { idle: 16, busy: 2, busyRate: 200 };

/** How often each worker looks for incidents that time changes (hold-downs, staleness, reminders). */
const TICK_INTERVAL_MS = 1_000;

/**
 * The workers: ingest (normalize, update incidents, plan syncs), one sync worker per channel kind,
 * Slack's clicks, and the incident ticker (hold-downs, staleness, reminders, silenced incidents' alerts).
 */
function startPipeline({
  config,
  redis,
  workerAck,
  onShortfall,
  routing,
  catalog,
  syncs,
  incidents,
  alertState,
  actionDeps,
  metrics,
  logger,
  onIncidentChanged,
  ingestPace,
}: PipelineDeps): Pipeline {
  const timeoutMs = config.delivery.timeoutMs;
  const channels = {
    slack: { ...config.channels.slack, timeoutMs, publicUrl: config.actions.publicUrl },
    email: { ...config.channels.email, timeoutMs, connections: config.delivery.concurrency },
    pagerduty: { ...config.channels.pagerduty, timeoutMs },
  };
  let notifiers = new Map<string, IncidentNotifier>();
  const reloadReceivers = (routingConfig: RoutingConfig) => {
    const built = buildNotifiers(routingConfig.receivers, channels, { redis, keyPrefix: config.redisPrefix, logger });
    for (const name of built.fallbacks) {
      logger.warn({ receiver: name }, `receiver "${name}" has no credentials for its channel: it only logs what it would send`);
    }
    const previous = notifiers;
    notifiers = built.notifiers;
    // Let in-flight sends of the old receivers finish before closing their transports.
    setTimeout(() => void closeNotifiers(previous.values()), timeoutMs).unref();
  };
  reloadReceivers(routing.current());

  const replicatedBeforeCompletion = [incidentsTag(config.redisPrefix), ...CHANNEL_KINDS.map((kind) => queuePrefix(config.redisPrefix, syncQueueName(kind)))];
  const enqueue = (planned: Parameters<SyncQueues['enqueue']>[0]) => syncs.enqueue(planned);
  const processDeps = {
    catalog,
    defaultSeverity: config.defaultSeverity,
    routing: () => routing.current(),
    store: incidents,
    alertState,
    enqueue,
    metrics,
    logger,
    onIncidentChanged,
  };
  const syncDeps = {
    store: incidents,
    notifierFor: (receiver: string) => notifiers.get(receiver),
    timeoutMs,
    claimMs: config.jobLockMs,
    metrics,
    logger,
    onIncidentChanged,
  };

  const ingestWorker = startIngestWorker({
    connection: redis,
    prefix: config.redisPrefix,
    process: async (webhook, attempt) => {
      await processWebhook(webhook, attempt, processDeps);
      // On a Cluster the webhook's job and what processing it wrote (its incidents, its syncs)
      // live on different masters: the job completes only once those writes are on replicas,
      // else a failover of one master could keep the completion and lose the incident. On one
      // master, the completion is replicated after the writes it follows: nothing to wait for.
      if (config.redis.topology.kind === 'cluster') {
        await workerAck.confirm(...replicatedBeforeCompletion).catch((error: unknown) => {
          if (!(error instanceof ReplicaAckError)) throw error; // no answer: retry the webhook rather than complete it
          onShortfall(error);
        });
      }
    },
    lockMs: config.jobLockMs,
    // A worker process has no webhook to leave room for: eight at a time drain the backlog that a
    // router started in the middle of a storm builds up while its JIT is cold; sixteen did no
    // better there. Beside the webhook (ROLE=all), ingestPace sets it.
    concurrency: ingestPace?.settings.idle ?? 8,
    metrics,
    logger,
  });
  ingestPace?.drive(ingestWorker);
  const workers: Array<{ close(force: boolean): Promise<void> }> = [
    ingestWorker,
    ...CHANNEL_KINDS.map((kind) =>
      startSyncWorker({
        kind,
        connection: redis,
        prefix: config.redisPrefix,
        queues: syncs,
        sync: (data) => syncReceiver(data, syncDeps),
        recordFailure: (data, error, attempt) => recordSyncFailure(data, error, attempt, syncDeps),
        concurrency: config.delivery.concurrency,
        lockMs: config.jobLockMs,
        metrics,
        logger,
      }),
    ),
    startActionWorker({
      connection: redis,
      prefix: config.redisPrefix,
      run: (data) => runSlackAction(data, { ...actionDeps, respond: (url, text) => respondEphemeral(url, text, config.delivery.timeoutMs) }),
      lockMs: config.jobLockMs,
      metrics,
      logger,
    }),
  ];

  let ticking = false;
  const ticker = setInterval(() => {
    if (ticking || redis.status !== 'ready') return;
    ticking = true;
    tickDueIncidents(Date.now(), { store: incidents, routing: () => routing.current(), enqueue, metrics, onIncidentChanged })
      .then(() => checkSilencedIncidents(Date.now(), actionDeps))
      .catch((error: unknown) => logger.warn({ err: String(error) }, 'incident tick failed; the next one retries'))
      .finally(() => {
        ticking = false;
      });
  }, TICK_INTERVAL_MS);

  return {
    reloadReceivers,
    receivers: () => [...notifiers.keys()],
    stop: async (force) => {
      clearInterval(ticker);
      ingestPace?.stop();
      await Promise.all(workers.map((worker) => worker.close(force)));
      await closeNotifiers(notifiers.values());
    },
  };
}

/** How long /metrics and /readyz wait for Redis before answering without it. */
const SCRAPE_DEADLINE_MS = 500;

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
  });
  promise.catch(() => undefined); // a late rejection after the deadline is not unhandled
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** `auth`, then a 503 in the API's error shape when the request connection is not up. */
function requireReady(auth: RequestHandler, redis: RedisClient): RequestHandler {
  return (req, res, next) =>
    auth(req, res, (error?: unknown) => {
      if (error) return next(error);
      if (redis.status !== 'ready') return next(new ApiError(503, 'unavailable', `Redis is unreachable (connection ${redis.status}); retry later`));
      next();
    });
}

/**
 * A worker-side replica acknowledgement that fell short: the work goes on (a page held back for want
 * of a replica helps nobody); counted, and logged at most once a minute.
 */
function shortfallReporter(metrics: Metrics, logger: Logger): (error: Error) => void {
  let loggedAt = 0;
  return (error) => {
    metrics.replicaAckShortfalls.inc({ path: 'worker' });
    if (Date.now() - loggedAt < 60_000) return;
    loggedAt = Date.now();
    logger.warn({ err: error.message }, "replicas did not confirm the workers' writes in time (REDIS_MIN_REPLICAS_ACK); going on without");
  };
}
