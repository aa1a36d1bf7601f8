import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import type { DeliveryQueues } from '../../queue/deliveries.js';
import { ApiError } from '../errors.js';

export const listQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) });

/**
 * Dead letters, behind ADMIN_TOKEN.
 * GET  /api/v1/deliveries/failed            receiver, alert, reason, attempts
 * POST /api/v1/deliveries/failed/:id/retry  re-drive one
 */
export function deliveriesRouter(deliveries: DeliveryQueues, adminAuth: RequestHandler): Router {
  const router = Router();
  router.get('/api/v1/deliveries/failed', adminAuth, async (req, res) => {
    const query = listQuery.safeParse(req.query);
    if (!query.success) throw new ApiError(400, 'invalid_query', `limit: ${query.error.issues[0]!.message}`);
    res.json({ failed: await deliveries.listFailed(query.data.limit) });
  });
  router.post('/api/v1/deliveries/failed/:id/retry', adminAuth, async (req, res) => {
    const retried = await deliveries.retryFailed(String(req.params.id));
    if (!retried) throw new ApiError(404, 'not_found', `no failed delivery with id ${JSON.stringify(req.params.id)}`);
    res.status(202).json({ retried });
  });
  return router;
}
