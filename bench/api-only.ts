import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from '../src/api/app.js';
import { webhookRoute } from '../src/api/routes/webhook.js';
import { createLogger } from '../src/observability/logger.js';
import { createMetrics } from '../src/observability/metrics.js';
import { IngestProducer } from '../src/queue/ingest.js';
import { createProducerConnection } from '../src/queue/redis.js';

/**
 * The router's webhook path alone, composed as src/server.ts composes it (same app, route, auth,
 * validation and Redis producer) but without the workers: how far the HTTP path reaches when it
 * has the process to itself, to tell its cost apart from the workers' (a diagnostic row).
 */
const token = process.env.BENCH_WEBHOOK_TOKEN!;
const metrics = createMetrics();
const logger = createLogger('info');
const redis = createProducerConnection(process.env.REDIS_URL!);
await new Promise((resolve) => redis.once('ready', resolve));
const ingest = new IngestProducer(redis, 'bench-api-only');
const app = createApp({ metrics, logger, routers: [], direct: [webhookRoute({ tokens: [token], maxBodyBytes: 1024 * 1024, ingest, metrics, logger })] });
const server = createServer({ keepAliveTimeout: 5_000 }, app);

server.listen(0, '127.0.0.1', () => process.send!({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
process.once('disconnect', () => process.exit(0));
