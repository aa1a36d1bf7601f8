import express, { type Express, type RequestHandler, type Router } from 'express';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { ApiError, errorHandler } from './errors.js';

/** Records http_request_duration_seconds, the SLI of Maestro's latency SLO, per matched route. */
function measureRequests(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const end = metrics.httpRequestDuration.startTimer({ method: req.method });
    res.on('finish', () => {
      // Label by route pattern, never by raw URL, so unknown paths cannot explode the series count.
      const route = req.route?.path ? `${req.baseUrl}${req.route.path}` : 'unmatched';
      end({ route, status_code: res.statusCode });
    });
    next();
  };
}

export function createApp({ routers, metrics, logger }: { routers: Router[]; metrics: Metrics; logger: Logger }): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(measureRequests(metrics));
  for (const router of routers) app.use(router);
  app.use((req, _res, next) => next(new ApiError(404, 'not_found', `no route for ${req.method} ${req.path}`)));
  app.use(errorHandler(logger));
  return app;
}
