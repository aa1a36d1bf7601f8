import { Router } from 'express';

export interface Readiness {
  /** Each check names a dependency and whether it is usable now. */
  check(): Promise<Record<string, boolean>>;
}

/** GET /healthz: the process answers. GET /readyz: Redis reachable and routing loaded, else 503. */
export function healthRouter(readiness: Readiness): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const checks = await readiness.check();
    const ready = Object.values(checks).every(Boolean);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks });
  });
  return router;
}
