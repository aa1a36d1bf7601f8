import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { createApp } from './api/app.js';
import { alertsRouter } from './api/routes/alerts.js';
import { deadLettersRouter } from './api/routes/dead-letters.js';
import { healthRouter } from './api/routes/health.js';
import { metricsRouter } from './api/routes/metrics.js';
import { routingRouter } from './api/routes/routing.js';
import { webhookRoute } from './api/routes/webhook.js';
import { loadSloCatalog, type SloCatalog } from './alerts/slo-catalog.js';
import { isLoopback, type Config } from './config/env.js';
import { IncidentStore } from './incidents/store.js';
import { buildNotifiers, closeNotifiers } from './notifiers/build.js';
import type { IncidentNotifier } from './notifiers/types.js';
import type { Logger } from './observability/logger.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { tickDueIncidents } from './pipeline/incidents.js';
import { processWebhook } from './pipeline/process-webhook.js';
import { recordSyncFailure, syncReceiver } from './pipeline/sync.js';
import { AlertState } from './queue/alert-state.js';
import { countDeadLetters, DeadLetters } from './queue/dead-letters.js';
import { ingestDeadLetterSource, IngestProducer } from './queue/ingest.js';
import { startIngestWorker } from './queue/ingest-worker.js';
import { CHANNEL_KINDS, INGEST_QUEUE, QUEUE_STATES } from './queue/names.js';
import { startSyncWorker } from './queue/sync-worker.js';
import { SyncQueues } from './queue/syncs.js';
import { incidentsRouter } from './api/routes/incidents.js';
import { createProducerConnection, createWorkerConnection, reportConnectionState } from './queue/redis.js';
import { RoutingStore } from './routing/store.js';
import type { RoutingConfig } from './routing/types.js';
import { createAccess, SessionStore } from './ui/access.js';
import { EventHub, incidentPublisher, type IncidentChanged } from './ui/events.js';
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

  const producerRedis = createProducerConnection(config.redisUrl);
  const workerRedis = createWorkerConnection(config.redisUrl);
  reportConnectionState(producerRedis, 'producer', logger);
  reportConnectionState(workerRedis, 'worker', logger);
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
  const ingest = new IngestProducer(producerRedis, config.redisPrefix, config.delivery);
  const syncs = new SyncQueues(workerRedis, config.redisPrefix, config.delivery);
  const incidents = new IncidentStore(workerRedis, config.redisPrefix);
  const deadLetters = new DeadLetters([ingestDeadLetterSource(ingest.queue), ...syncs.deadLetterSources()]);
  const alertState = new AlertState(workerRedis, config.redisPrefix);
  const servesApi = config.role !== 'worker';
  // Incident changes, published for the AlertCenter pages of every api replica (src/ui/events.ts).
  const onIncidentChanged = incidentPublisher(producerRedis, config.redisPrefix, logger);
  const pipeline =
    config.role === 'api'
      ? undefined
      : startPipeline({ config, redis: workerRedis, routing, catalog, syncs, incidents, alertState, metrics, logger, onIncidentChanged });

  // The admin API takes ADMIN_TOKEN (or a VIEWER_TOKENS token, read only) as a bearer token, or the page's session cookie with its CSRF token.
  const sessions = new SessionStore(producerRedis, config.redisPrefix, config.ui.sessionTtlMs);
  const access = createAccess({ adminToken: config.adminToken, viewerTokens: config.ui.viewerTokens, sessions });
  const adminAuth = access.api;
  const hub = new EventHub(producerRedis, config.redisPrefix, logger);
  const app = createApp({
    direct: servesApi ? [webhookRoute({ tokens: config.webhookTokens, maxBodyBytes: config.maxBodyBytes, ingest, metrics, logger })] : [],
    metrics,
    logger,
    routers: [
      healthRouter({
        check: async () => ({
          redis: await producerRedis.ping().then(() => true, () => false),
          routing: routing.current() !== undefined,
        }),
      }),
      metricsRouter(metrics, async () => {
        const ingested = await ingest.queue.getJobCounts(...QUEUE_STATES).catch(() => undefined);
        const syncCounts = await syncs.counts().catch(() => undefined);
        for (const [queue, counts] of Object.entries({ ...(ingested && { [INGEST_QUEUE]: ingested }), ...syncCounts })) {
          for (const [state, count] of Object.entries(counts)) metrics.queueDepth.set({ queue, state }, count);
        }
        const incidentCounts = await incidents.counts().catch(() => undefined);
        if (incidentCounts) {
          metrics.incidents.set({ state: 'open' }, incidentCounts.open);
          metrics.incidents.set({ state: 'resolved' }, incidentCounts.total - incidentCounts.open);
        }
      }),
      ...(servesApi
        ? [
            routingRouter(routing, catalog, config.defaultSeverity, adminAuth),
            deadLettersRouter(deadLetters, adminAuth),
            alertsRouter(alertState, syncs, adminAuth),
            incidentsRouter(incidents, adminAuth),
            uiRouter({
              incidents,
              routing,
              catalog,
              defaultSeverity: config.defaultSeverity,
              deadLetters,
              queueCounts: async () => ({ [INGEST_QUEUE]: await ingest.queue.getJobCounts(...QUEUE_STATES), ...(await syncs.counts()) }),
              sessions,
              access,
              hub,
              prometheus: config.ui.prometheusUrl ? new PrometheusSlos(config.ui.prometheusUrl, catalog) : undefined,
              cookieSecure: config.ui.cookieSecure,
              slackWorkspaceUrl: config.ui.slackWorkspaceUrl,
              openSignIn: !config.adminToken,
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
      await onIncidentChanged.flush();
      await Promise.all([ingest.close(), syncs.close()]);
      for (const redis of [producerRedis, workerRedis]) {
        if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
        else redis.disconnect();
      }
      logger.info('shut down cleanly');
    })());

  return { url, server, metrics, routing, syncs, incidents, reloadRouting: () => routing.reload(), stop };
}

/** An alert router on a Redis that can drop data loses alerts: say so at start-up. */
async function warnAboutRedisDurability(redis: Redis, logger: Logger): Promise<void> {
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
  redis: Redis;
  routing: RoutingStore;
  catalog: SloCatalog;
  syncs: SyncQueues;
  incidents: IncidentStore;
  alertState: AlertState;
  metrics: Metrics;
  logger: Logger;
  onIncidentChanged: IncidentChanged;
}

interface Pipeline {
  /** Rebuilds the receivers from a newly loaded routing config; deliveries then use the new ones. */
  reloadReceivers(routingConfig: RoutingConfig): void;
  receivers(): string[];
  /** Finishes the running jobs (`force`: without Redis none can finish, so do not wait) and closes the channels. */
  stop(force: boolean): Promise<void>;
}

/** How often each worker looks for incidents that time changes (hold-downs, staleness, reminders). */
const TICK_INTERVAL_MS = 1_000;

/** The workers: ingest (normalize, update incidents, plan syncs), one sync worker per channel kind, and the incident ticker. */
function startPipeline({ config, redis, routing, catalog, syncs, incidents, alertState, metrics, logger, onIncidentChanged }: PipelineDeps): Pipeline {
  const timeoutMs = config.delivery.timeoutMs;
  const channels = {
    slack: { ...config.channels.slack, timeoutMs },
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

  const enqueue = (planned: Parameters<SyncQueues['enqueue']>[0]) => syncs.enqueue(planned);
  const processDeps = { catalog, defaultSeverity: config.defaultSeverity, routing: () => routing.current(), store: incidents, alertState, enqueue, metrics, logger, onIncidentChanged };
  const syncDeps = { store: incidents, notifierFor: (receiver: string) => notifiers.get(receiver), timeoutMs, metrics, logger, onIncidentChanged };

  const workers: Array<{ close(force: boolean): Promise<void> }> = [
    startIngestWorker({
      connection: redis,
      prefix: config.redisPrefix,
      process: (webhook, attempt) => processWebhook(webhook, attempt, processDeps),
      lockMs: config.jobLockMs,
      // Processing a webhook costs ten times accepting it. Beside the webhook (ROLE=all), two at a
      // time keep up and leave it the event loop in a storm. A worker process has no webhook to
      // leave room for: eight at a time drain the backlog that a router started in the middle of a
      // storm builds up while its JIT is cold.
      concurrency: config.role === 'worker' ? 8 : 2,
      metrics,
      logger,
    }),
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
  ];

  let ticking = false;
  const ticker = setInterval(() => {
    if (ticking || redis.status !== 'ready') return;
    ticking = true;
    tickDueIncidents(Date.now(), { store: incidents, routing: () => routing.current(), enqueue, metrics, onIncidentChanged })
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
      await Promise.all(workers.map((worker) => worker.close(force)));
      await closeNotifiers(notifiers.values());
    },
  };
}
