import { Router } from 'express';
import type { Metrics } from '../../observability/metrics.js';

/** GET /metrics in Prometheus text format. */
export function metricsRouter(metrics: Metrics, beforeScrape: () => Promise<void>): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    await beforeScrape();
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  return router;
}
