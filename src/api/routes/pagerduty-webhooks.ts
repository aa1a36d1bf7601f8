import { z } from 'zod';
import type { Actor } from '../../incidents/types.js';
import { incidentIdOfDedupKey } from '../../notifiers/pagerduty/event.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import { type ActionDeps, ActionError, applyPagerDutyChange, type PagerDutyChange } from '../../pipeline/actions.js';
import type { RedisClient } from '../../queue/redis.js';
import type { DirectRoute } from '../app.js';
import { SignedRequestRefusals } from '../body.js';
import { ApiError, replyJson } from '../errors.js';
import { verifyPagerDutySignature } from '../signatures.js';

export const PAGERDUTY_WEBHOOKS_PATH = '/api/v1/pagerduty/webhooks';

/** A delivery id is remembered this long: PagerDuty retries a failed delivery for far less. */
const DELIVERY_MEMORY_S = 7 * 24 * 3600;

const reference = z.object({ id: z.string().optional(), summary: z.string().optional(), type: z.string().optional() }).passthrough();

/** PagerDuty's Webhooks v3 envelope: the fields read here (an incident event's `data` is the incident). */
export const pagerDutyWebhookPayload = z.object({
  event: z.object({
    id: z.string().min(1),
    event_type: z.string().min(1),
    occurred_at: z.string().optional(),
    agent: reference.nullish(),
    data: z
      .object({
        id: z.string().optional(),
        incident_key: z.string().nullish(),
        assignees: z.array(reference).optional(),
      })
      .passthrough(),
  }),
});

/** The incident events the router acts on; PagerDuty sends others to the same subscription. */
const CHANGES: Record<string, (data: z.infer<typeof pagerDutyWebhookPayload>['event']['data']) => PagerDutyChange> = {
  'incident.acknowledged': () => ({ kind: 'acknowledged' }),
  'incident.unacknowledged': () => ({ kind: 'unacknowledged' }),
  'incident.reassigned': (data) => ({ kind: 'reassigned', to: (data.assignees ?? []).map((assignee) => assignee.summary ?? assignee.id ?? 'someone') }),
  'incident.resolved': () => ({ kind: 'resolved' }),
};

interface PagerDutyWebhookDeps {
  secrets: readonly string[];
  maxBodyBytes: number;
  redis: RedisClient;
  prefix: string;
  actions: ActionDeps;
  metrics: Metrics;
  logger: Logger;
}

/**
 * POST /api/v1/pagerduty/webhooks: PagerDuty's Webhooks v3. Verifies X-PagerDuty-Signature
 * (PAGERDUTY_WEBHOOK_SECRETS), takes each delivery once (X-Webhook-Id; a redelivery gets a 200 and
 * changes nothing), and records acknowledged, unacknowledged, reassigned and resolved on the
 * incident whose dedup_key PagerDuty names as `incident_key`. Answers within the request: a few
 * Redis writes, well within PagerDuty's 5 s.
 */
export function pagerDutyWebhooksRoute(deps: PagerDutyWebhookDeps): DirectRoute {
  const { metrics, logger } = deps;
  const refusals = new SignedRequestRefusals(metrics);
  const refuse = (status: number, code: string, message: string) => refusals.refuse(status, code, message);
  const handle: DirectRoute['handle'] = async (req, res) => {
    const body = await refusals.readBody(req, deps.maxBodyBytes, res);
    const signature = req.headers['x-pagerduty-signature'];
    const check = verifyPagerDutySignature(deps.secrets, Array.isArray(signature) ? signature.join(',') : signature, body);
    if (!check.ok) throw refuse(401, check.reason, check.message);
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw refuse(400, 'invalid_json', 'body is not valid JSON');
    }
    const parsed = pagerDutyWebhookPayload.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw refuse(400, 'invalid_payload', `${issue.path.join('.') || '(body)'}: ${issue.message}`);
    }
    const { event } = parsed.data;
    const webhookId = String(req.headers['x-webhook-id'] ?? '') || event.id;
    const delivery = `${deps.prefix}:pagerduty-webhook:${webhookId}`;
    if ((await deps.redis.set(delivery, '1', 'EX', DELIVERY_MEMORY_S, 'NX').catch(unavailable)) !== 'OK') {
      return replyJson(res, 200, { duplicate: true, webhookId });
    }
    try {
      replyJson(res, ...(await apply(event)));
    } catch (error) {
      // Not taken: a redelivery of the same id must be processed.
      await deps.redis.del(delivery).catch(() => {});
      throw error;
    }
  };

  async function apply(event: z.infer<typeof pagerDutyWebhookPayload>['event']): Promise<[number, object]> {
    const change = CHANGES[event.event_type];
    if (change === undefined) return [200, { ignored: `${event.event_type} changes nothing here` }];
    const key = event.data.incident_key ?? null;
    const id = key === null ? null : incidentIdOfDedupKey(key);
    if (id === null) return [200, { ignored: 'not an incident the router paged for (its incident_key is not an AlertCenter dedup_key)' }];
    const actor: Actor = { name: event.agent?.summary ?? 'PagerDuty', id: event.agent?.id ?? null, via: 'pagerduty' };
    try {
      const outcome = await applyPagerDutyChange(id, actor, change(event.data), deps.actions);
      logger.info({ incident: id, eventType: event.event_type, changed: outcome.changed }, 'PagerDuty webhook applied');
      return [200, { incident: id, changed: outcome.changed }];
    } catch (error) {
      if (error instanceof ActionError && error.reason === 'not_found') throw refuse(404, 'not_found', error.message);
      if (error instanceof ActionError) return [200, { incident: id, changed: false, ignored: error.message }];
      logger.error({ err: String(error), incident: id }, 'cannot apply a PagerDuty webhook; PagerDuty will redeliver');
      throw refuse(503, 'unavailable', 'the router cannot record this right now (Redis unreachable); redeliver later');
    }
  }

  return { method: 'POST', path: PAGERDUTY_WEBHOOKS_PATH, handle };
}

function unavailable(): never {
  throw new ApiError(503, 'unavailable', 'the router cannot record this right now (Redis unreachable); redeliver later');
}
