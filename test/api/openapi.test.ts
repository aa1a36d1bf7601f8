import { Router } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { createApp as CreateApp, DirectRoute } from '../../src/api/app.js';
import { API_OPERATIONS, createOpenApiDocument, isDescribedPath, OPENAPI_PATH, openApiPath } from '../../src/api/openapi.js';
import { cleanRedis, startTestRouter, type TestRouter } from '../support/router.js';

// The routes the real composition root (src/server.ts) hands to createApp, captured on the way.
const captured = vi.hoisted(() => [] as Array<Parameters<typeof CreateApp>[0]>);
vi.mock('../../src/api/app.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/api/app.js')>();
  return {
    ...actual,
    createApp: (deps: Parameters<typeof CreateApp>[0]) => {
      captured.push(deps);
      return actual.createApp(deps);
    },
  };
});

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  name?: string;
  handle?: { stack?: Layer[] };
}

/** `METHOD path` of every API route in express routers and direct routes, as express matches them (the page's HTML routes left out). */
function registeredRoutes(routers: Router[], direct: DirectRoute[]): string[] {
  const found = direct.map((route) => `${route.method} ${route.path}`);
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const method of Object.keys(layer.route.methods)) {
          if (method === '_all') throw new Error(`router.all() on ${paths.join(', ')}: list its methods explicitly so they can be documented`);
          for (const path of paths) found.push(`${method.toUpperCase()} ${path}`);
        }
      } else if (layer.name === 'router' && layer.handle?.stack) {
        // A nested router's mount path is not recoverable here: keep routers flat (full paths).
        throw new Error('nested router found: register routes with their full paths, as src/api/routes/*.ts do');
      }
    }
  };
  for (const router of routers) walk((router as unknown as { stack: Layer[] }).stack);
  return found.filter((route) => isDescribedPath(route.slice(route.indexOf(' ') + 1))).sort();
}

const documented = (operations = API_OPERATIONS) => operations.map(({ method, path }) => `${method.toUpperCase()} ${path}`).sort();

/** What a route list lacks, each way. */
function drift(registered: string[], described: string[]) {
  return {
    undocumented: registered.filter((route) => !described.includes(route)),
    documentedButMissing: described.filter((route) => !registered.includes(route)),
  };
}

describe('OpenAPI description', () => {
  let router: TestRouter;
  let routes: string[];

  beforeAll(async () => {
    captured.length = 0;
    router = await startTestRouter({ ADMIN_TOKEN: 'admin-token-openapi', WEBHOOK_TOKENS: 'webhook-token-openapi' });
    expect(captured).toHaveLength(1);
    routes = registeredRoutes(captured[0]!.routers, captured[0]!.direct);
  });

  afterAll(async () => {
    await router?.stop();
    if (router) await cleanRedis(router.prefix);
  });

  it('describes exactly the routes a router of ROLE=all registers, method by method', () => {
    expect(routes.length).toBeGreaterThanOrEqual(12);
    expect(routes).toContain('POST /api/v1/webhooks/alertmanager');
    expect(drift(routes, documented())).toEqual({ undocumented: [], documentedButMissing: [] });
  });

  it('would catch a route added without its description, and a description without its route', () => {
    const extra = Router();
    extra.get('/api/v1/not-yet-documented', (_req, res) => res.json({}));
    const withExtra = registeredRoutes([...captured[0]!.routers, extra], captured[0]!.direct);
    expect(drift(withExtra, documented()).undocumented).toEqual(['GET /api/v1/not-yet-documented']);
    expect(drift(routes, documented(API_OPERATIONS.slice(1))).undocumented).toEqual(['POST /api/v1/webhooks/alertmanager']);
    expect(drift(routes.slice(1), documented()).documentedButMissing).toHaveLength(1);
  });

  it('is served at /api/v1/openapi.json without credentials, as generated', async () => {
    const res = await request(router.server).get(OPENAPI_PATH);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual(JSON.parse(JSON.stringify(createOpenApiDocument())));
    expect(res.body.openapi).toBe('3.1.0');
    expect(Object.keys(res.body.paths).sort()).toEqual([...new Set(API_OPERATIONS.map(({ path }) => openApiPath(path)))].sort());
  });

  it('takes its request schemas from the zod schemas the routes validate with', () => {
    const { paths } = createOpenApiDocument();
    const webhook = paths!['/api/v1/webhooks/alertmanager']!.post!;
    const body = (webhook.requestBody as { content: Record<string, { schema: { required: string[]; properties: Record<string, unknown> } }> }).content[
      'application/json'
    ]!.schema;
    expect(body.required.sort()).toEqual(['alerts', 'externalURL', 'groupKey', 'status', 'version']);
    expect(body.properties.alerts).toMatchObject({ type: 'array', maxItems: 1000 });
    expect(webhook.security).toEqual([{ webhookToken: [] }, { webhookBasic: [] }]);

    const alerts = paths!['/api/v1/alerts']!.get!;
    expect(alerts.parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ in: 'query', name: 'status', schema: expect.objectContaining({ enum: ['firing', 'resolved'] }) }),
        expect.objectContaining({ in: 'query', name: 'limit', schema: expect.objectContaining({ type: 'integer', minimum: 1, maximum: 1000 }) }),
      ]),
    );
    expect(alerts.security).toEqual([{ adminToken: [] }]);

    const routingTest = paths!['/api/v1/routing/test']!.post!;
    const routingBody = (routingTest.requestBody as { content: Record<string, { schema: Record<string, unknown> }> }).content['application/json']!.schema;
    expect(routingBody).toMatchObject({ type: 'object', required: ['labels'], additionalProperties: false });

    expect(paths!['/api/v1/alerts/{fingerprint}']!.get!.parameters).toEqual([expect.objectContaining({ in: 'path', name: 'fingerprint', required: true })]);
    expect(paths!['/healthz']!.get!.security).toEqual([]);
  });

  it('has a route behind every documented path and method (none answers "no route")', async () => {
    for (const { method, path } of API_OPERATIONS) {
      const url = path.replace(/:(\w+)/g, 'openapi-test-$1');
      const res = await request(router.server)
        [method](url)
        .set('Content-Type', 'application/json')
        .send(method === 'get' ? undefined : '{}');
      const noRoute = res.status === 404 && String(res.body?.error?.message).startsWith('no route for');
      expect(noRoute, `${method.toUpperCase()} ${path}`).toBe(false);
    }
  });
});
