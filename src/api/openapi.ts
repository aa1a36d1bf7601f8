import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { createDocument, type oas31, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from 'zod-openapi';
import { webhookPayloadSchema } from '../alerts/schema.js';
import { listQuery as alertsListQuery } from './routes/alerts.js';
import { deadLetterListQuery } from './routes/dead-letters.js';
import { actionRequest, silenceRequest } from './routes/incident-actions.js';
import { incidentListQuery } from './routes/incidents.js';
import { PAGERDUTY_WEBHOOKS_PATH, pagerDutyWebhookPayload } from './routes/pagerduty-webhooks.js';
import { chartQuery, reportQuery } from './routes/reports.js';
import { testRequest as routingTestRequest } from './routes/routing.js';
import { SLACK_INTERACTIONS_PATH } from './routes/slack-interactions.js';

/**
 * The OpenAPI 3.1 description of the HTTP API, served at GET /api/v1/openapi.json.
 *
 * Request schemas are the zod schemas the routes validate with (imported, never copied); responses
 * are described here. Every route the app registers must have an entry in API_OPERATIONS, under its
 * express path (`/api/v1/alerts/:fingerprint`): test/api/openapi.test.ts compares this list with the
 * routes of a running router, both ways, so a new route without an entry (or an entry without a
 * route) fails the suite. To document a route: export the zod schema it validates with, add an
 * entry below with `auth` and `operation`, and run that test.
 */
export const OPENAPI_PATH = '/api/v1/openapi.json';

/** What the description covers: the API and the probes, not the AlertCenter page's HTML (/, /login, /ui/*, /assets/*). */
export const isDescribedPath = (path: string): boolean => path.startsWith('/api/') || ['/healthz', '/readyz', '/metrics'].includes(path);

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Auth = 'none' | 'admin' | 'webhook' | 'signed';

export interface ApiOperation {
  method: Method;
  /** The path as registered with express (`:param` segments). */
  path: string;
  auth: Auth;
  operation: ZodOpenApiOperationObject;
}

const errorBody = z
  .object({ error: z.object({ code: z.string().meta({ example: 'invalid_payload' }), message: z.string() }) })
  .meta({ id: 'Error', description: 'Every error has this shape.' });

const json = (schema: z.ZodType) => ({ 'application/json': { schema } });
const error = (description: string) => ({ description, content: json(errorBody) });
const unauthorized = error('Missing or wrong credentials.');
const anyObject = z.record(z.string(), z.unknown());

const deadLetter = z
  .looseObject({
    id: z.string(),
    queue: z.string(),
    reason: z.string(),
    attempts: z.int(),
    failedAt: z.string().nullable(),
  })
  .meta({
    id: 'DeadLetter',
    description: "A job given up on, with the queue's own fields: a webhook's acceptedAt, bytes, alerts and groupKey; a sync's incidentId and receiver.",
  });

const incident = z
  .looseObject({
    id: z.string(),
    state: z.enum(['open', 'resolving', 'resolved']),
    severity: z.enum(['critical', 'warning', 'info']),
    peakSeverity: z.enum(['critical', 'warning', 'info']),
    title: z.string(),
    slo: z.string().nullable(),
    service: z.string().nullable(),
    openedAt: z.string(),
    changedAt: z.string(),
    resolvedAt: z.string().nullable(),
    tiers: z.record(z.string(), anyObject),
    receivers: z.record(z.string(), anyObject),
  })
  .meta({ id: 'Incident', description: 'One incident: the burn tiers of one SLO (or one alert), its state, figures and receivers.' });

const listedAlert = z
  .object({
    fingerprint: z.string(),
    alertname: z.string(),
    status: z.enum(['firing', 'resolved']),
    startsAt: z.string(),
    endsAt: z.string().nullable(),
    severity: z.enum(['critical', 'warning', 'info']),
    slo: z.string().nullable(),
    service: z.string().nullable(),
    longWindow: z.string().nullable(),
    labels: z.record(z.string(), z.string()),
  })
  .meta({ id: 'ListedAlert', description: "Which alert, its state and its tier; its figures and texts are its incident's." });

const alertRecord = z
  .object({ alert: listedAlert, updatedAt: z.string(), incident: z.string().nullable() })
  .meta({ id: 'AlertRecord', description: 'The latest known state of one alert: the alert, when it changed, the incident it belongs to.' });

const actionResponses = {
  '200': {
    description: 'The incident after the action; `changed` is false when it was already so.',
    content: json(z.object({ incident, changed: z.boolean() })),
  },
  '400': error('invalid_body.'),
  '401': unauthorized,
  '404': error('not_found.'),
  '409': error('incident_resolved or already_silenced.'),
  '502': error('alertmanager_unavailable: not every Alertmanager took the change; nothing is recorded as done.'),
};

const fingerprintParam = z.object({ fingerprint: z.string().meta({ description: 'The alert fingerprint (16 hex digits from Alertmanager).' }) });

export const API_OPERATIONS: ApiOperation[] = [
  {
    method: 'post',
    path: '/api/v1/webhooks/alertmanager',
    auth: 'webhook',
    operation: {
      operationId: 'postAlertmanagerWebhook',
      summary: "Alertmanager's webhook (version 4; Grafana's superset too)",
      requestBody: { required: true, content: json(webhookPayloadSchema) },
      responses: {
        '202': { description: 'Stored in Redis; everything after runs from Redis.', content: json(z.object({ accepted: z.int().min(0) })) },
        '400': error('invalid_json or invalid_payload: the message names the field.'),
        '401': unauthorized,
        '413': error('payload_too_large: body over MAX_BODY_BYTES.'),
        '415': error('unsupported_media_type: not application/json.'),
        '503': error('unavailable: Redis cannot take the alert; retry.'),
      },
    },
  },
  {
    method: 'get',
    path: '/healthz',
    auth: 'none',
    operation: {
      operationId: 'getHealth',
      summary: 'The process is alive',
      responses: { '200': { description: 'Alive.', content: json(z.object({ status: z.literal('ok') })) } },
    },
  },
  {
    method: 'get',
    path: '/readyz',
    auth: 'none',
    operation: {
      operationId: 'getReadiness',
      summary: 'Redis reachable and routing loaded',
      responses: {
        '200': { description: 'Ready.', content: json(z.object({ status: z.literal('ready'), checks: z.record(z.string(), z.boolean()) })) },
        '503': {
          description: 'Not ready: `checks` says what is not.',
          content: json(z.object({ status: z.literal('not_ready'), checks: z.record(z.string(), z.boolean()) })),
        },
      },
    },
  },
  {
    method: 'get',
    path: '/metrics',
    auth: 'none',
    operation: {
      operationId: 'getMetrics',
      summary: 'Prometheus metrics',
      responses: { '200': { description: 'Prometheus text exposition format.', content: { 'text/plain': { schema: z.string() } } } },
    },
  },
  {
    method: 'get',
    path: OPENAPI_PATH,
    auth: 'none',
    operation: {
      operationId: 'getOpenApi',
      summary: 'This description',
      responses: { '200': { description: 'OpenAPI 3.1 document.', content: json(anyObject) } },
    },
  },
  {
    method: 'get',
    path: '/api/v1/routing',
    auth: 'admin',
    operation: {
      operationId: 'getRouting',
      summary: 'The routing configuration in force (secrets masked), its hash and load time',
      responses: {
        '200': { description: 'Routing configuration.', content: json(z.looseObject({ file: z.string(), hash: z.string(), loadedAt: z.string() })) },
        '401': unauthorized,
      },
    },
  },
  {
    method: 'post',
    path: '/api/v1/routing/test',
    auth: 'admin',
    operation: {
      operationId: 'testRouting',
      summary: 'Labels in; matched routes and receivers, and why, out',
      requestBody: { required: true, content: json(routingTestRequest) },
      responses: {
        '200': {
          description: 'How the pipeline would route an alert with these labels.',
          content: json(z.looseObject({ labels: z.record(z.string(), z.string()), hash: z.string(), verdicts: z.array(anyObject), decision: anyObject })),
        },
        '400': error('invalid_json or invalid_request.'),
        '401': unauthorized,
      },
    },
  },
  {
    method: 'get',
    path: '/api/v1/alerts',
    auth: 'admin',
    operation: {
      operationId: 'listAlerts',
      summary: 'Latest state of each alert, newest first',
      requestParams: { query: alertsListQuery },
      responses: {
        '200': { description: 'Alerts.', content: json(z.object({ alerts: z.array(alertRecord) })) },
        '400': error('invalid_query.'),
        '401': unauthorized,
      },
    },
  },
  {
    method: 'get',
    path: '/api/v1/alerts/:fingerprint',
    auth: 'admin',
    operation: {
      operationId: 'getAlert',
      summary: 'One alert',
      requestParams: { path: fingerprintParam },
      responses: { '200': { description: 'The alert.', content: json(alertRecord) }, '401': unauthorized, '404': error('not_found.') },
    },
  },
  {
    method: 'get',
    path: '/api/v1/incidents',
    auth: 'admin',
    operation: {
      operationId: 'listIncidents',
      summary: 'Incidents, open first, then newest',
      requestParams: { query: incidentListQuery },
      responses: {
        '200': { description: 'Incidents.', content: json(z.object({ incidents: z.array(incident) })) },
        '400': error('invalid_query.'),
        '401': unauthorized,
      },
    },
  },
  {
    method: 'get',
    path: '/api/v1/incidents/:id',
    auth: 'admin',
    operation: {
      operationId: 'getIncident',
      summary: 'One incident: state, tiers, alerts, timeline, and per receiver what it was told',
      requestParams: { path: z.object({ id: z.string() }) },
      responses: {
        '200': {
          description: 'The incident, its timeline (oldest first) and its receivers (status, notification log, last failure).',
          content: json(z.object({ incident, timeline: z.array(anyObject), receivers: z.record(z.string(), anyObject) })),
        },
        '401': unauthorized,
        '404': error('not_found.'),
      },
    },
  },
  {
    method: 'get',
    path: '/api/v1/deliveries',
    auth: 'admin',
    operation: {
      operationId: 'getQueueCounts',
      summary: 'Job counts of the ingest queue and each sync queue',
      responses: {
        '200': { description: 'Counts by queue, then by state.', content: json(z.object({ queues: z.record(z.string(), z.record(z.string(), z.int())) })) },
        '401': unauthorized,
      },
    },
  },
  {
    method: 'get',
    path: '/api/v1/dead-letters',
    auth: 'admin',
    operation: {
      operationId: 'listDeadLetters',
      summary: 'Dead letters of every queue (stored webhooks and syncs), newest first',
      requestParams: { query: deadLetterListQuery },
      responses: {
        '200': { description: 'Dead letters.', content: json(z.object({ deadLetters: z.array(deadLetter) })) },
        '400': error('invalid_query.'),
        '401': unauthorized,
      },
    },
  },
  {
    method: 'post',
    path: '/api/v1/dead-letters/:queue/:id/retry',
    auth: 'admin',
    operation: {
      operationId: 'retryDeadLetter',
      summary: 'Re-drive one dead letter',
      requestParams: { path: z.object({ queue: z.string(), id: z.string() }) },
      responses: {
        '202': { description: 'Queued again.', content: json(z.object({ retried: deadLetter })) },
        '401': unauthorized,
        '404': error('not_found.'),
      },
    },
  },
  {
    method: 'get',
    path: '/api/v1/deliveries/failed',
    auth: 'admin',
    operation: {
      operationId: 'listFailedDeliveries',
      summary: 'The first path of the dead letters: the same list, as `failed`',
      requestParams: { query: deadLetterListQuery },
      responses: {
        '200': { description: 'Dead letters.', content: json(z.object({ failed: z.array(deadLetter) })) },
        '400': error('invalid_query.'),
        '401': unauthorized,
      },
    },
  },
  {
    method: 'post',
    path: '/api/v1/deliveries/failed/:id/retry',
    auth: 'admin',
    operation: {
      operationId: 'retryFailedDelivery',
      summary: 'The first path of the re-drive: the queue is found by id, or named with ?queue=',
      requestParams: { path: z.object({ id: z.string() }), query: z.object({ queue: z.string().optional() }) },
      responses: {
        '202': { description: 'Queued again.', content: json(z.object({ retried: deadLetter })) },
        '401': unauthorized,
        '404': error('not_found.'),
        '409': error('ambiguous_id: the id exists in more than one queue; name it with ?queue=.'),
      },
    },
  },
  ...(['ack', 'unack', 'unsilence'] as const).map(
    (action): ApiOperation => ({
      method: 'post',
      path: `/api/v1/incidents/:id/${action}`,
      auth: 'admin',
      operation: {
        operationId: `${action}Incident`,
        summary: { ack: 'Acknowledge an incident', unack: 'Take an acknowledgement back', unsilence: "Expire the incident's silences on every Alertmanager" }[
          action
        ],
        requestParams: { path: z.object({ id: z.string() }) },
        requestBody: { required: true, content: json(actionRequest) },
        responses: actionResponses,
      },
    }),
  ),
  {
    method: 'post',
    path: '/api/v1/incidents/:id/silence',
    auth: 'admin',
    operation: {
      operationId: 'silenceIncident',
      summary: "Silence the incident's alerts on every Alertmanager of ALERTMANAGER_URLS",
      requestParams: { path: z.object({ id: z.string() }) },
      requestBody: { required: true, content: json(silenceRequest) },
      responses: actionResponses,
    },
  },
  {
    method: 'post',
    path: SLACK_INTERACTIONS_PATH,
    auth: 'signed',
    operation: {
      operationId: 'postSlackInteraction',
      summary: "Slack's interactivity request URL: block_actions of the incident message's buttons, signed with a secret of SLACK_SIGNING_SECRETS",
      requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: z.object({ payload: z.string() }) } } },
      responses: {
        '200': { description: 'Taken; the work runs from the queue (an ephemeral message says when it could not be done).' },
        '400': error('invalid_payload.'),
        '401': error('bad_signature, stale_timestamp or replayed.'),
        '413': error('payload_too_large.'),
      },
    },
  },
  {
    method: 'post',
    path: PAGERDUTY_WEBHOOKS_PATH,
    auth: 'signed',
    operation: {
      operationId: 'postPagerDutyWebhook',
      summary: 'PagerDuty Webhooks v3 (incident.acknowledged, unacknowledged, reassigned, resolved), signed with a secret of PAGERDUTY_WEBHOOK_SECRETS',
      requestBody: { required: true, content: json(pagerDutyWebhookPayload) },
      responses: {
        '200': { description: 'Processed, ignored (not our incident) or a duplicate X-Webhook-Id.', content: json(anyObject) },
        '400': error('invalid_payload.'),
        '401': error('bad_signature.'),
        '413': error('payload_too_large.'),
      },
    },
  },
  {
    method: 'get',
    path: '/api/v1/reports/weeks',
    auth: 'admin',
    operation: {
      operationId: 'listReportWeeks',
      summary: 'The weeks the weekly SLO review can cover (newest first), the default one and the current one',
      responses: { '200': { description: 'Weeks.', content: json(anyObject) }, '401': unauthorized },
    },
  },
  {
    method: 'get',
    path: '/api/v1/reports/weekly',
    auth: 'admin',
    operation: {
      operationId: 'getWeeklyReport',
      summary: "One week's SLO review (default: the last complete week) as JSON, HTML or Markdown",
      requestParams: { query: reportQuery },
      responses: {
        '200': {
          description: 'The report; with Prometheus unreachable, `prometheus.available` is false and says why.',
          content: { ...json(anyObject), 'text/html': { schema: z.string() }, 'text/markdown': { schema: z.string() } },
        },
        '400': error('invalid_query.'),
        '401': unauthorized,
      },
    },
  },
  {
    method: 'get',
    path: '/api/v1/reports/weekly/chart',
    auth: 'admin',
    operation: {
      operationId: 'getWeeklyBurnDown',
      summary: "One SLO's error budget burn-down over its period against the ideal line",
      requestParams: { query: chartQuery },
      responses: {
        '200': { description: 'SVG.', content: { 'image/svg+xml': { schema: z.string() } } },
        '400': error('invalid_query.'),
        '401': unauthorized,
        '404': error('not_found: no such SLO.'),
        '503': error('prometheus_unavailable.'),
      },
    },
  },
  {
    method: 'get',
    path: '/api/v1/events',
    auth: 'admin',
    operation: {
      operationId: 'streamEvents',
      summary: 'Server-sent events: `incident` {"ids": [...], "gen": N} when incidents change, `resync` when a reader should reload everything',
      responses: {
        '200': { description: 'An event stream, open until the client leaves.', content: { 'text/event-stream': { schema: z.string() } } },
        '401': unauthorized,
      },
    },
  },
];

const SECURITY: Record<Auth, oas31.SecurityRequirementObject[]> = {
  none: [],
  admin: [{ adminToken: [] }],
  webhook: [{ webhookToken: [] }, { webhookBasic: [] }],
  // Verified from the body's signature (Slack's X-Slack-Signature, PagerDuty's X-PagerDuty-Signature), not a token.
  signed: [],
};

/** `/api/v1/alerts/:fingerprint` -> `/api/v1/alerts/{fingerprint}`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:(\w+)/g, '{$1}');
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export function createOpenApiDocument(operations: readonly ApiOperation[] = API_OPERATIONS): ReturnType<typeof createDocument> {
  const paths: ZodOpenApiPathsObject = {};
  for (const { method, path, auth, operation } of operations) {
    const key = openApiPath(path);
    paths[key] ??= {};
    const item = paths[key];
    if (item[method]) throw new Error(`OpenAPI: ${method.toUpperCase()} ${path} is described twice`);
    item[method] = { ...operation, security: SECURITY[auth] };
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Maestro AlertCenter router',
      version: packageVersion(),
      description:
        'Receives Alertmanager webhooks about SLO burn-rate alerts and serves their state. Roles: `api` and `all` serve every path; `worker` serves /healthz, /readyz and /metrics only.',
    },
    paths,
    components: {
      securitySchemes: {
        adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' },
        webhookToken: { type: 'http', scheme: 'bearer', description: 'One of WEBHOOK_TOKENS' },
        webhookBasic: { type: 'http', scheme: 'basic', description: 'Any user name, one of WEBHOOK_TOKENS as the password' },
      },
    },
  });
}
