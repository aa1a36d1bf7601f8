import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type RequestHandler, type Router } from 'express';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { ApiError, asApiError, errorHandler, sendError } from './errors.js';

/**
 * A route that needs nothing of express, served straight from node:http when the method and URL
 * match exactly: express's routing and request/response decoration cost more than the webhook's
 * own work (bench/RESULTS.md). Other spellings of the path (query string, trailing slash) reach the
 * same handler through express. It throws ApiError to refuse, as express handlers do.
 */
export interface DirectRoute {
  method: 'POST';
  path: string;
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
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

export function createApp({
  routers,
  direct,
  metrics,
  logger,
}: {
  routers: Router[];
  direct: DirectRoute[];
  metrics: Metrics;
  logger: Logger;
}): RequestListener {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(measureRequests(metrics));
  for (const route of direct) app.post(route.path, (req, res) => route.handle(req, res));
  for (const router of routers) app.use(router);
  app.use((req, _res, next) => next(new ApiError(404, 'not_found', `no route for ${req.method} ${req.path}`)));
  app.use(errorHandler(logger));

  return (req, res) => {
    const route = direct.find((candidate) => candidate.path === req.url && candidate.method === req.method);
    if (!route) return app(req, res);
    observe(metrics, req, res, () => route.path);
    route.handle(req, res).catch((error: unknown) => {
      if (res.headersSent) res.destroy();
      else sendError(res, asApiError(error, logger, route.path));
    });
  };
}
