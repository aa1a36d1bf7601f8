import { Router } from 'express';
import { createOpenApiDocument, OPENAPI_PATH } from '../openapi.js';

/**
 * GET /api/v1/openapi.json: the OpenAPI description of this API, without authentication. It says
 * nothing the README does not (paths, schemas, which credentials each path needs; no
 * configuration, no secrets), and client generators and API tools fetch it before they have any.
 */
export function openApiRouter(): Router {
  const router = Router();
  let body: string | undefined;
  router.get(OPENAPI_PATH, (_req, res) => {
    body ??= JSON.stringify(createOpenApiDocument());
    res.type('application/json').send(body);
  });
  return router;
}
