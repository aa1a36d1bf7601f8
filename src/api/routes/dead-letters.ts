import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { DeadLetters } from '../../queue/dead-letters.js';
import { ApiError } from '../errors.js';

/**
 * Dead letters of every queue (stored webhooks and deliveries), behind ADMIN_TOKEN.
 * GET  /api/v1/dead-letters?queue=&limit=            newest first: id, queue, reason, attempts, failedAt, and the queue's fields
 * POST /api/v1/dead-letters/:queue/:id/retry         re-drive one
 * The first paths, kept: the same dead letters.
 * GET  /api/v1/deliveries/failed?limit=
 * POST /api/v1/deliveries/failed/:id/retry?queue=
 */
export const deadLetterListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  queue: z.string().min(1).optional().meta({ description: 'One queue: ingest, sync-pagerduty, sync-slack or sync-email.' }),
});

export function deadLettersRouter(deadLetters: DeadLetters, adminAuth: RequestHandler): Router {
  const router = Router();
  const list =
    (key: 'deadLetters' | 'failed'): RequestHandler =>
    async (req, res) => {
      const query = deadLetterListQuery.safeParse(req.query);
      if (!query.success) {
        const issue = query.error.issues[0]!;
        throw new ApiError(400, 'invalid_query', `${issue.path.join('.')}: ${issue.message}`);
      }
      const { queue } = query.data;
      if (queue !== undefined && !deadLetters.queues().includes(queue)) {
        throw new ApiError(400, 'invalid_query', `queue: expected one of ${deadLetters.queues().join(', ')}, got ${JSON.stringify(queue)}`);
      }
      res.json({ [key]: await deadLetters.list(query.data) });
    };
  const retry = async (id: string, queue: string | undefined) => {
    if (queue !== undefined && !deadLetters.queues().includes(queue)) {
      throw new ApiError(404, 'not_found', `no queue ${JSON.stringify(queue)}; queues: ${deadLetters.queues().join(', ')}`);
    }
    const result = await deadLetters.retry(id, queue);
    if (result.outcome === 'not_found') throw new ApiError(404, 'not_found', `no dead letter with id ${JSON.stringify(id)}${queue ? ` in ${queue}` : ''}`);
    if (result.outcome === 'ambiguous') {
      throw new ApiError(409, 'ambiguous_id', `dead letters with id ${JSON.stringify(id)} in ${result.queues.join(', ')}: name the queue (?queue=)`);
    }
    return result.deadLetter;
  };

  router.get('/api/v1/dead-letters', adminAuth, list('deadLetters'));
  router.post('/api/v1/dead-letters/:queue/:id/retry', adminAuth, async (req, res) => {
    res.status(202).json({ retried: await retry(String(req.params.id), String(req.params.queue)) });
  });
  router.get('/api/v1/deliveries/failed', adminAuth, list('failed'));
  router.post('/api/v1/deliveries/failed/:id/retry', adminAuth, async (req, res) => {
    const queue = typeof req.query.queue === 'string' ? req.query.queue : undefined;
    res.status(202).json({ retried: await retry(String(req.params.id), queue) });
  });
  return router;
}
