import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { Router, type RequestHandler } from 'express';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { ApiError, errorHandler } from './errors.js';

/** A handler that needs nothing of express; it throws ApiError to refuse, as express handlers do. */
export type PlainHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

interface DirectRoute {
  method: string;
  path: string;
  handle: PlainHandler;
}

const directRoutes = new WeakMap<Router, DirectRoute>();

/**
 * A router of one route that createApp also serves straight from node:http when the method and URL
 * match exactly: express's routing and request/response decoration cost more than the webhook's own
 * work (bench/RESULTS.md). Other spellings of the path (query string, trailing slash) reach the same
 * handler through express.
 */
export function directRoute(method: 'POST', path: string, handle: PlainHandler): Router {
  const router = Router();
  router.post(path, (req, res) => handle(req, res));
  directRoutes.set(router, { method, path, handle });
  return router;
}

/** What express's res.json sends. */
export function replyJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** Records http_request_duration_seconds, the SLI of Maestro's latency SLO, per matched route. */
function observe(metrics: Metrics, req: IncomingMessage, res: ServerResponse, route: () => string): void {
  const end = metrics.httpRequestDuration.startTimer({ method: req.method });
  res.on('finish', () => end({ route: route(), status_code: res.statusCode }));
}

function measureRequests(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    // Label by route pattern, never by raw URL, so unknown paths cannot explode the series count.
    observe(metrics, req, res, () => (req.route?.path ? `${req.baseUrl}${req.route.path}` : 'unmatched'));
    next();
  };
}

export function createApp({ routers, metrics, logger }: { routers: Router[]; metrics: Metrics; logger: Logger }): RequestListener {
  // A direct route's failure is answered by express's error handler, like any other route's.
  const failures = new WeakMap<IncomingMessage, Error>();
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((req, _res, next) => next(failures.get(req)));
  app.use(measureRequests(metrics));
  for (const router of routers) app.use(router);
  app.use((req, _res, next) => next(new ApiError(404, 'not_found', `no route for ${req.method} ${req.path}`)));
  app.use(errorHandler(logger));

  const direct = routers.map((router) => directRoutes.get(router)).filter((route): route is DirectRoute => route !== undefined);
  return (req, res) => {
    const route = direct.find((candidate) => candidate.path === req.url && candidate.method === req.method);
    if (!route) return app(req, res);
    observe(metrics, req, res, () => route.path);
    route.handle(req, res).catch((error: unknown) => {
      failures.set(req, error instanceof Error ? error : new Error(String(error)));
      app(req, res);
    });
  };
}
