import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { SloCatalog } from '../../alerts/slo-catalog.js';
import type { Severity } from '../../alerts/types.js';
import { explainRoute } from '../../routing/route.js';
import type { RoutingStore } from '../../routing/store.js';
import { routingLabelsOfTestAlert } from '../../routing/test-alert.js';
import { readJsonBody } from '../body.js';
import { ApiError } from '../errors.js';

export const testRequest = z.strictObject({
  labels: z.record(z.string(), z.string()),
  /** ISO time at which to evaluate time intervals; now by default. */
  at: z.iso.datetime({ offset: true }).optional(),
});

/**
 * GET  /api/v1/routing       the config in force, secrets masked, with its hash and load time
 * POST /api/v1/routing/test  {"labels": {...}} in; matched routes, receivers and why, out
 * Both behind ADMIN_TOKEN.
 */
export function routingRouter(store: RoutingStore, catalog: SloCatalog, defaultSeverity: Severity, adminAuth: RequestHandler): Router {
  const router = Router();
  router.get('/api/v1/routing', adminAuth, (_req, res) => {
    res.json(store.maskedConfig());
  });
  router.post('/api/v1/routing/test', adminAuth, async (req, res) => {
    const parsed = testRequest.safeParse((await readJsonBody(req, 64 * 1024)).value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ApiError(400, 'invalid_request', `${issue.path.join('.') || '(body)'}: ${issue.message}`);
    }
    const { labels, at } = parsed.data;
    const when = at ? new Date(at) : new Date();
    // Route exactly as the pipeline would: severity mapping and SLO fields come from normalization.
    const routed = routingLabelsOfTestAlert(labels, when, { catalog, defaultSeverity });
    const explanation = explainRoute(store.current(), routed, when);
    res.json({ labels: routed, hash: store.hash, ...explanation });
  });
  return router;
}
