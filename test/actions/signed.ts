import { createHmac, randomUUID } from 'node:crypto';

/**
 * Requests as Slack and PagerDuty sign them, computed here from their documentation (not with the
 * router's own code), so a test fails when the router verifies anything else.
 */

export interface SlackClick {
  action: string;
  incidentId: string;
  user?: { id: string; username: string };
  responseUrl?: string;
  /** Seconds since the epoch; now by default. */
  timestamp?: number;
  /** Extra actions (e.g. a link button's). */
  extraActions?: Array<{ action_id: string; value?: string }>;
}

/** The form body Slack posts for a block_actions click. */
export function slackClickBody({ action, incidentId, user = { id: 'U0ALICE', username: 'alice' }, responseUrl, extraActions = [] }: SlackClick): string {
  const payload = {
    type: 'block_actions',
    user: { id: user.id, username: user.username, name: user.username, team_id: 'T0PEER' },
    api_app_id: 'A0PEER',
    token: 'legacy-verification-token',
    container: { type: 'message', message_ts: '1700000000.000100', channel_id: 'CMAESTROALERTS', is_ephemeral: false },
    trigger_id: '1.2.3',
    team: { id: 'T0PEER', domain: 'maestro' },
    channel: { id: 'CMAESTROALERTS', name: 'maestro-alerts' },
    ...(responseUrl === undefined ? {} : { response_url: responseUrl }),
    actions: [
      { type: 'button', action_id: action, block_id: 'b1', value: incidentId, text: { type: 'plain_text', text: 'x' }, action_ts: '1700000001.000200' },
      ...extraActions,
    ],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/** Slack's headers for `body`: v0=HMAC-SHA256(secret, "v0:<ts>:<body>"). */
export function slackHeaders(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)): Record<string, string> {
  const signature = `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': signature };
}

/** A PagerDuty Webhooks v3 incident event for our dedup_key. */
export function pagerDutyEvent(eventType: string, incidentId: string, agent = { id: 'PAGENT1', summary: 'Earline Greenholt' }, extra: object = {}) {
  return {
    event: {
      id: randomUUID(),
      event_type: eventType,
      resource_type: 'incident',
      occurred_at: new Date().toISOString(),
      agent: { ...agent, type: 'user_reference', self: `https://api.pagerduty.com/users/${agent.id}` },
      client: null,
      data: {
        id: 'PT4KHLK',
        type: 'incident',
        status: eventType.replace('incident.', ''),
        incident_key: `alertcenter/incident/${incidentId}`,
        title: 'database-availability SLO',
        ...extra,
      },
    },
  };
}

/** PagerDuty's headers for `body`: X-PagerDuty-Signature v1=HMAC-SHA256(secret, body), one value per secret. */
export function pagerDutyHeaders(secrets: string[], body: string, webhookId: string = randomUUID()): Record<string, string> {
  const signature = secrets.map((secret) => `v1=${createHmac('sha256', secret).update(body).digest('hex')}`).join(',');
  return { 'content-type': 'application/json', 'x-pagerduty-signature': signature, 'x-webhook-id': webhookId };
}
