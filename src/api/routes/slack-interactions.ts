import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { IncidentStore } from '../../incidents/store.js';
import { SLACK_ACTIONS } from '../../notifiers/slack/message.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { ActionQueue } from '../../queue/actions.js';
import type { RedisClient } from '../../queue/redis.js';
import type { DirectRoute } from '../app.js';
import { SignedRequestRefusals } from '../body.js';
import { ApiError } from '../errors.js';
import { SLACK_TIMESTAMP_TOLERANCE_S, verifySlackSignature } from '../signatures.js';

export const SLACK_INTERACTIONS_PATH = '/api/v1/slack/interactions';

/** Slack's `block_actions` payload: the fields read here (https://docs.slack.dev/reference/interaction-payloads/block_actions-payload). */
export const blockActionsPayload = z.object({
  type: z.literal('block_actions'),
  user: z.object({ id: z.string().min(1), username: z.string().optional(), name: z.string().optional() }),
  response_url: z.string().optional(),
  actions: z.array(z.object({ action_id: z.string(), value: z.string().optional() })).min(1),
});

const KNOWN_ACTIONS = new Set<string>(Object.values(SLACK_ACTIONS));
/** The message's link buttons reach the request URL too; Slack opens the link itself. */
const isLinkButton = (actionId: string) => /^link-\d+$/.test(actionId);

interface SlackInteractionDeps {
  signingSecrets: readonly string[];
  maxBodyBytes: number;
  /** For replays: a signed request is taken once. */
  redis: RedisClient;
  prefix: string;
  store: IncidentStore;
  actions: ActionQueue;
  /** Origins a response_url may point at (Slack's hooks.slack.com; SLACK_API_URL's, for a proxy or a test peer). */
  responseOrigins: ReadonlySet<string>;
  metrics: Metrics;
  logger: Logger;
}

/**
 * POST /api/v1/slack/interactions: Slack's interactivity request URL. Verifies Slack's v0 signature
 * (SLACK_SIGNING_SECRETS), refuses a request seen before, checks the button and its incident, and
 * queues the work: Slack wants an answer within 3 s, and an Alertmanager may take longer.
 */
export function slackInteractionsRoute(deps: SlackInteractionDeps): DirectRoute {
  const { metrics, logger } = deps;
  const refusals = new SignedRequestRefusals(metrics);
  const refuse = (status: number, code: string, message: string) => refusals.refuse(status, code, message);
  const handle: DirectRoute['handle'] = async (req, res) => {
    const body = await refusals.readBody(req, deps.maxBodyBytes, res);
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const signature = header('x-slack-signature');
    const check = verifySlackSignature(deps.signingSecrets, { timestamp: header('x-slack-request-timestamp'), signature }, body, Date.now());
    if (!check.ok) throw refuse(401, check.reason, check.message);
    if (!(await firstSighting(deps, signature!))) throw refuse(401, 'replayed', 'this signed request was received before');

    const type = header('content-type') ?? '';
    if (!/^application\/x-www-form-urlencoded\s*(?:;|$)/i.test(type)) {
      throw refuse(415, 'unsupported_media_type', `expected Content-Type application/x-www-form-urlencoded, got ${type ? JSON.stringify(type) : 'none'}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(new URLSearchParams(body.toString('utf8')).get('payload') ?? '');
    } catch {
      throw refuse(400, 'invalid_payload', 'the form has no payload field holding JSON');
    }
    const parsed = blockActionsPayload.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw refuse(400, 'invalid_payload', `${issue.path.join('.') || 'payload'}: ${issue.message} (only block_actions are taken)`);
    }
    const payload = parsed.data;
    const clicked = payload.actions.filter((action) => !isLinkButton(action.action_id));
    const unknown = clicked.find((action) => !KNOWN_ACTIONS.has(action.action_id));
    if (unknown) throw refuse(400, 'unknown_action', `unknown action_id ${JSON.stringify(unknown.action_id)}`);
    // Check every incident before queuing any: an unknown one changes nothing.
    for (const action of clicked) {
      if (!action.value || (await deps.store.get(action.value)) === null) {
        throw refuse(404, 'not_found', `no incident with id ${JSON.stringify(action.value ?? '')}`);
      }
    }
    const responseUrl = allowedResponseUrl(payload.response_url, deps.responseOrigins);
    if (payload.response_url !== undefined && responseUrl === null) {
      logger.warn({ origin: originOf(payload.response_url) }, 'ignoring a response_url outside Slack: no ephemeral answers for this click');
    }
    const user = { id: payload.user.id, name: payload.user.username || payload.user.name || payload.user.id };
    try {
      for (const action of clicked) {
        await deps.actions.enqueue({ action: action.action_id, incidentId: action.value!, user, responseUrl, receivedAt: Date.now() });
      }
    } catch (error) {
      logger.error({ err: String(error) }, 'cannot queue a Slack action');
      throw refuse(503, 'unavailable', 'the router cannot take the action right now (Redis unreachable); try again');
    }
    // Slack wants an empty 200; the message changes when the incident's sync runs.
    res.writeHead(200, { 'Content-Length': 0 });
    res.end();
  };
  return { method: 'POST', path: SLACK_INTERACTIONS_PATH, handle };
}

/** Remembers the signature for as long as its timestamp passes: true the first time only. */
async function firstSighting({ redis, prefix }: SlackInteractionDeps, signature: string): Promise<boolean> {
  const key = `${prefix}:slack-request:${createHash('sha256').update(signature).digest('hex')}`;
  try {
    return (await redis.set(key, '1', 'PX', 2 * SLACK_TIMESTAMP_TOLERANCE_S * 1000, 'NX')) === 'OK';
  } catch {
    throw new ApiError(503, 'unavailable', 'the router cannot take the action right now (Redis unreachable); try again');
  }
}

function allowedResponseUrl(text: string | undefined, origins: ReadonlySet<string>): string | null {
  if (text === undefined) return null;
  const origin = originOf(text);
  return origin !== null && origins.has(origin) ? text : null;
}

function originOf(text: string): string | null {
  try {
    return new URL(text).origin;
  } catch {
    return null;
  }
}
