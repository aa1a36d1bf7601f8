import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { AlertState } from '../../queue/alert-state.js';
import { ApiError } from '../errors.js';

export const listQuery = z.object({
  status: z.enum(['firing', 'resolved']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/**
 * Alert and delivery state for the Maestro AlertCenter, behind ADMIN_TOKEN.
 * GET /api/v1/alerts?status=firing&limit=100   latest state of each alert, newest first
 * GET /api/v1/alerts/:fingerprint               one alert
 * GET /api/v1/deliveries                        job counts per sync queue
 */
/** The queues whose job counts GET /api/v1/deliveries shows. */
interface QueueCounts {
  counts(): Promise<Record<string, Record<string, number>>>;
}

export function alertsRouter(alertState: AlertState, deliveries: QueueCounts, adminAuth: RequestHandler): Router {
  const router = Router();
  router.get('/api/v1/alerts', adminAuth, async (req, res) => {
    const query = listQuery.safeParse(req.query);
    if (!query.success) {
      const issue = query.error.issues[0]!;
      throw new ApiError(400, 'invalid_query', `${issue.path.join('.')}: ${issue.message}`);
    }
    res.json({ alerts: await alertState.list(query.data) });
  });
  router.get('/api/v1/alerts/:fingerprint', adminAuth, async (req, res) => {
    const record = await alertState.get(String(req.params.fingerprint));
    if (!record) throw new ApiError(404, 'not_found', `no alert with fingerprint ${JSON.stringify(req.params.fingerprint)}`);
    res.json(record);
  });
  router.get('/api/v1/deliveries', adminAuth, async (_req, res) => {
    res.json({ queues: await deliveries.counts() });
  });
  return router;
}
