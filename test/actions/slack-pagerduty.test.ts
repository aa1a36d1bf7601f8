import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChannelPeers, startChannelPeers } from '../peers/channel-peers.js';
import { freePort } from '../support/processes.js';
import { cleanRedis, eventually, startTestRouter, type TestRouter } from '../support/router.js';
import { pagerDutyEvent, pagerDutyHeaders, slackClickBody, slackHeaders } from './signed.js';

const OLD_SLACK_SECRET = 'slack-signing-old-4f9a1c';
const NEW_SLACK_SECRET = 'slack-signing-new-8d2e7b';
const PD_SECRET = 'pagerduty-webhook-secret-91c3';
const ADMIN_TOKEN = 'actions-admin-token-55ab';
const ACK = 'alertcenter_acknowledge';
const SILENCE_1H = 'alertcenter_silence_1h';

function routingFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'alertcenter-actions-')), 'routes.yaml');
  writeFileSync(
    file,
    `
receivers:
  - { name: oncall-pagerduty, pagerduty: {} }
  - { name: ops-slack, slack: { channel: "#maestro-alerts" } }
routes:
  - { name: pages, matchers: ['severity="critical"'], receivers: [oncall-pagerduty, ops-slack], resolve_hold: 1s }
  - { name: warnings, matchers: ['severity="warning"'], receivers: [ops-slack], resolve_hold: 1s }
default_receivers: [ops-slack]
`,
  );
  return file;
}

let groups = 0;
function webhook(service: string, tiers: Array<{ severity: 'warning' | 'critical'; status?: 'firing' | 'resolved' }>) {
  const alerts = tiers.map(({ severity, status = 'firing' }) => {
    const longWindow = severity === 'critical' ? '1h' : '6h';
    return {
      status,
      labels: { alertname: 'MaestroSLOErrorBudgetBurn', slo: 'database-availability', service, severity, long_window: longWindow, short_window: '5m' },
      annotations: {
        summary: 'database-availability is burning its error budget',
        burn_rate: '15',
        burn_rate_short: '20',
        burn_rate_long: '15',
        error_budget_remaining: '0.6',
      },
      startsAt: '2026-12-07T12:00:00Z',
      endsAt: status === 'resolved' ? '2026-12-07T12:30:00Z' : '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus.maestro.example:9090/graph',
      fingerprint: `${service}-${severity}`.replace(/[^a-z0-9]/gi, ''),
    };
  });
  return {
    receiver: 'alertcenter',
    status: alerts.some((alert) => alert.status === 'firing') ? 'firing' : 'resolved',
    alerts,
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager.maestro.example:9093',
    version: '4',
    groupKey: `{}:{n="${groups++}"}`,
    truncatedAlerts: 0,
  };
}

describe('on-call acts from Slack, PagerDuty and the API (router, Redis, Slack and PagerDuty peers)', () => {
  let peers: ChannelPeers;
  let router: TestRouter;
  /** An Alertmanager that is not there: a port nobody listens on. */
  let deadAlertmanager: string;

  beforeAll(async () => {
    peers = await startChannelPeers();
    deadAlertmanager = `http://127.0.0.1:${await freePort()}`;
    router = await startTestRouter({
      ...peers.env,
      ROUTING_FILE: routingFile(),
      ADMIN_TOKEN,
      SLACK_SIGNING_SECRETS: `${OLD_SLACK_SECRET},${NEW_SLACK_SECRET}`,
      PAGERDUTY_WEBHOOK_SECRETS: PD_SECRET,
      ALERTMANAGER_URLS: deadAlertmanager,
      ALERTMANAGER_TIMEOUT: '1s',
      PUBLIC_URL: 'https://alertcenter.maestro.example',
      MAX_BODY_BYTES: '65536',
      DELIVERY_BACKOFF: '200ms',
    });
  });
  afterAll(async () => {
    await router?.stop();
    await Promise.all([peers?.close(), router && cleanRedis(router.prefix)]);
  });

  const post = (path: string, body: string, headers: Record<string, string>) => fetch(`${router.url}${path}`, { method: 'POST', body, headers });
  const click = (options: Parameters<typeof slackClickBody>[0], secret = NEW_SLACK_SECRET, timestamp?: number) => {
    const body = slackClickBody(options);
    return post('/api/v1/slack/interactions', body, slackHeaders(secret, body, timestamp));
  };
  const pagerDuty = (payload: object, webhookId?: string, secrets = [PD_SECRET]) => {
    const body = JSON.stringify(payload);
    return post('/api/v1/pagerduty/webhooks', body, pagerDutyHeaders(secrets, body, webhookId));
  };
  const admin = (path: string, body: object) =>
    post(path, JSON.stringify(body), { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` });
  const detail = async (id: string) =>
    (await (await fetch(`${router.url}/api/v1/incidents/${id}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as any;
  const send = async (payload: object) => {
    const res = await post('/api/v1/webhooks/alertmanager', JSON.stringify(payload), { 'content-type': 'application/json' });
    expect(res.status).toBe(202);
  };
  /** The incident's Slack message as it stands, once posted. */
  const messageOf = (service: string) => [...peers.slack.messages.values()].find((m) => m.thread_ts === undefined && JSON.stringify(m).includes(service));
  const repliesTo = (service: string) => [...peers.slack.messages.values()].filter((m) => m.thread_ts !== undefined && m.thread_ts === messageOf(service)?.ts);
  const pages = (id: string) => peers.pagerduty.received.filter((r) => r.event.dedup_key === `alertcenter/incident/${id}`).map((r) => r.event.event_action);
  const buttonsOf = (service: string) =>
    JSON.stringify(messageOf(service)?.attachments ?? [])
      .match(/"action_id":"alertcenter_[a-z0-9_]+"/g)
      ?.map((match) => match.slice('"action_id":"'.length, -1)) ?? [];
  /** Opens a critical incident of `service` and waits for its page and its Slack message. */
  async function openIncident(service: string): Promise<string> {
    await send(webhook(service, [{ severity: 'critical' }]));
    const incident = await eventually(
      async () => {
        const { incidents } = (await (
          await fetch(`${router.url}/api/v1/incidents?state=open`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
        ).json()) as any;
        return incidents.find((candidate: any) => candidate.service === service);
      },
      10_000,
      `the incident of ${service}`,
    );
    await eventually(() => messageOf(service) !== undefined && pages(incident.id).includes('trigger'), 10_000, 'the Slack message and the page');
    return incident.id as string;
  }

  it('Acknowledge in Slack: answered at once, the message and a thread reply say who, PagerDuty gets acknowledge; a second click changes nothing', async () => {
    const service = 'ack-from-slack';
    const id = await openIncident(service);
    expect(buttonsOf(service)).toEqual(['alertcenter_acknowledge', 'alertcenter_silence_1h', 'alertcenter_silence_4h']);
    expect(JSON.stringify(messageOf(service)!.attachments)).toContain(`https://alertcenter.maestro.example/incidents/${id}`);

    const started = Date.now();
    // Signed with the first of two secrets (a rotation): accepted too.
    const res = await click({ action: ACK, incidentId: id, responseUrl: peers.slack.responseUrl() }, OLD_SLACK_SECRET);
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(3_000);

    await eventually(() => pages(id).includes('acknowledge'), 10_000, 'the acknowledge event at PagerDuty');
    const message = await eventually(
      () => {
        const found = messageOf(service);
        return found && JSON.stringify(found.attachments).includes('Acknowledged by @alice, ') ? found : undefined;
      },
      10_000,
      'the message to show the acknowledgement',
    );
    expect(JSON.stringify(message.attachments)).toMatch(/Acknowledged by @alice, \d\d:\d\d UTC/);
    expect(peers.slack.received.some((call) => call.method === 'chat.update' && call.args.ts === message.ts)).toBe(true);
    expect(buttonsOf(service)).toEqual(['alertcenter_silence_1h', 'alertcenter_silence_4h']);
    await eventually(() => repliesTo(service).some((reply) => /Acknowledged by @alice, \d\d:\d\d UTC/.test(reply.text ?? '')), 10_000, 'the thread reply');

    const { incident, timeline } = await detail(id);
    expect(incident.acknowledged).toMatchObject({ by: 'alice', userId: 'U0ALICE', via: 'slack' });
    expect(timeline.filter((event: any) => event.kind === 'acknowledged')).toHaveLength(1);

    const again = await click({ action: ACK, incidentId: id });
    expect(again.status).toBe(200);
    await eventually(
      () => router.logs.entries().some((entry) => entry.msg === 'Slack action changed nothing (done already)' && entry.incident === id),
      10_000,
      'the second click to be processed',
    );
    const after = await detail(id);
    expect(after.incident.rev).toBe(incident.rev);
    expect(after.timeline.filter((event: any) => event.kind === 'acknowledged')).toHaveLength(1);
    expect(pages(id).filter((action) => action === 'acknowledge')).toHaveLength(1);
  });

  it('Silence while the Alertmanager is unreachable: the user is told in an ephemeral message and nothing is recorded as silenced', async () => {
    const service = 'silence-unreachable';
    const id = await openIncident(service);
    const responseUrl = peers.slack.responseUrl();
    expect((await click({ action: SILENCE_1H, incidentId: id, responseUrl })).status).toBe(200);
    const answer = await eventually(() => peers.slack.responses.find((response) => responseUrl.endsWith(response.path)), 10_000, 'the ephemeral answer');
    expect(answer.body.response_type).toBe('ephemeral');
    expect(answer.body.text).toMatch(new RegExp(`^:warning: no silence was created: ${deadAlertmanager}: cannot reach it`));
    const { incident, timeline } = await detail(id);
    expect(incident.silenced).toBeNull();
    expect(timeline.find((event: any) => event.kind === 'silence_failed')).toMatchObject({ by: 'alice', via: 'slack' });
  });

  describe('refuses what it cannot trust, with the status and message said, counted, changing nothing', () => {
    let id: string;
    beforeAll(async () => {
      id = await openIncident('refusals');
    });
    const rejections = async (reason: string) =>
      (await router.metrics.webhookRejections.get()).values.find((sample) => sample.labels.reason === reason)?.value ?? 0;
    const expectRefused = async (res: Response, status: number, code: string, message: string) => {
      expect(res.status).toBe(status);
      expect(await res.json()).toEqual({ error: { code, message } });
    };

    it('Slack: missing, wrong and stale signatures, replays, oversized bodies, unknown actions and incidents', async () => {
      const body = slackClickBody({ action: ACK, incidentId: id });
      await expectRefused(
        await post('/api/v1/slack/interactions', body, { 'content-type': 'application/x-www-form-urlencoded' }),
        401,
        'missing_signature',
        'missing X-Slack-Signature or X-Slack-Request-Timestamp',
      );
      await expectRefused(
        await post('/api/v1/slack/interactions', body, slackHeaders('not-the-secret', body)),
        401,
        'bad_signature',
        'X-Slack-Signature does not match the request',
      );
      const stale = Math.floor(Date.now() / 1000) - 6 * 60;
      await expectRefused(
        await post('/api/v1/slack/interactions', body, slackHeaders(NEW_SLACK_SECRET, body, stale)),
        401,
        'stale_timestamp',
        'X-Slack-Request-Timestamp is more than 5 minutes away from the time here',
      );
      // A body changed after signing.
      const signed = slackHeaders(NEW_SLACK_SECRET, body);
      await expectRefused(
        await post('/api/v1/slack/interactions', body.replace('alice', 'mallory'), signed),
        401,
        'bad_signature',
        'X-Slack-Signature does not match the request',
      );
      const unknown = slackClickBody({ action: 'alertcenter_delete_everything', incidentId: id });
      const unknownHeaders = slackHeaders(NEW_SLACK_SECRET, unknown);
      await expectRefused(
        await post('/api/v1/slack/interactions', unknown, unknownHeaders),
        400,
        'unknown_action',
        'unknown action_id "alertcenter_delete_everything"',
      );
      // The same signed request again: a replay.
      await expectRefused(await post('/api/v1/slack/interactions', unknown, unknownHeaders), 401, 'replayed', 'this signed request was received before');
      const nowhere = slackClickBody({ action: ACK, incidentId: 'no-such-incident' });
      await expectRefused(
        await post('/api/v1/slack/interactions', nowhere, slackHeaders(NEW_SLACK_SECRET, nowhere)),
        404,
        'not_found',
        'no incident with id "no-such-incident"',
      );
      const huge = slackClickBody({ action: ACK, incidentId: id, extraActions: [{ action_id: 'link-0', value: 'x'.repeat(70_000) }] });
      await expectRefused(
        await post('/api/v1/slack/interactions', huge, slackHeaders(NEW_SLACK_SECRET, huge)),
        413,
        'payload_too_large',
        'body exceeds the limit of 65536 bytes (MAX_BODY_BYTES)',
      );

      for (const reason of ['missing_signature', 'bad_signature', 'stale_timestamp', 'replayed', 'unknown_action', 'not_found', 'payload_too_large']) {
        expect(await rejections(reason), reason).toBeGreaterThanOrEqual(1);
      }
      const { incident, timeline } = await detail(id);
      expect(incident.acknowledged).toBeNull();
      expect(timeline.map((event: any) => event.kind)).not.toContain('acknowledged');
    });

    it('PagerDuty: a missing or wrong signature', async () => {
      const body = JSON.stringify(pagerDutyEvent('incident.acknowledged', id));
      await expectRefused(
        await post('/api/v1/pagerduty/webhooks', body, { 'content-type': 'application/json' }),
        401,
        'missing_signature',
        'missing X-PagerDuty-Signature (v1=...)',
      );
      await expectRefused(
        await post('/api/v1/pagerduty/webhooks', body, pagerDutyHeaders(['not-the-secret'], body)),
        401,
        'bad_signature',
        'X-PagerDuty-Signature does not match the request',
      );
      expect((await detail(id)).incident.acknowledged).toBeNull();
    });

    it('the API: unknown incidents, bad bodies', async () => {
      await expectRefused(await admin('/api/v1/incidents/no-such-incident/ack', { by: 'carol' }), 404, 'not_found', 'no incident with id "no-such-incident"');
      await expectRefused(await admin(`/api/v1/incidents/${id}/ack`, {}), 400, 'invalid_body', 'by: name who acts (a bearer token has no user to name)');
      await expectRefused(
        await admin(`/api/v1/incidents/${id}/silence`, { by: 'carol', for: 'forever' }),
        400,
        'invalid_body',
        'for: expected a duration from 1s to 7d such as 1h or 30m, got "forever"',
      );
      expect((await detail(id)).incident.acknowledged).toBeNull();
    });

    it('no secret reaches a log line', () => {
      for (const secret of [OLD_SLACK_SECRET, NEW_SLACK_SECRET, PD_SECRET, ADMIN_TOKEN]) expect(router.logs.text).not.toContain(secret);
    });
  });

  it('PagerDuty webhooks: a signed incident.acknowledged acknowledges the incident and updates its Slack message, once per X-Webhook-Id', async () => {
    const service = 'ack-from-pagerduty';
    const id = await openIncident(service);
    const payload = pagerDutyEvent('incident.acknowledged', id);
    const res = await pagerDuty(payload, 'delivery-1');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ incident: id, changed: true });
    const repeat = await pagerDuty(payload, 'delivery-1');
    expect(repeat.status).toBe(200);
    expect(await repeat.json()).toEqual({ duplicate: true, webhookId: 'delivery-1' });

    await eventually(
      () => JSON.stringify(messageOf(service)?.attachments ?? '').includes('Acknowledged by Earline Greenholt in PagerDuty, '),
      10_000,
      'the Slack message',
    );
    const { incident, timeline } = await detail(id);
    expect(incident.acknowledged).toMatchObject({ by: 'Earline Greenholt', userId: 'PAGENT1', via: 'pagerduty' });
    expect(timeline.filter((event: any) => event.kind === 'acknowledged')).toHaveLength(1);
    // Not echoed back to PagerDuty.
    expect(pages(id)).not.toContain('acknowledge');

    // PagerDuty's acknowledgement timed out: unacknowledged, the Acknowledge button is back.
    expect((await pagerDuty(pagerDutyEvent('incident.unacknowledged', id))).status).toBe(200);
    await eventually(() => buttonsOf(service).includes('alertcenter_acknowledge'), 10_000, 'the Acknowledge button again');
    expect((await detail(id)).incident.acknowledged).toBeNull();

    // Not ours: ignored with a 200, so PagerDuty does not redeliver it.
    const foreign = pagerDutyEvent('incident.acknowledged', id);
    foreign.event.data.incident_key = 'some-other-integration/123';
    expect(await (await pagerDuty(foreign)).json()).toEqual({
      ignored: 'not an incident the router paged for (its incident_key is not an AlertCenter dedup_key)',
    });
  });

  it('resolved in PagerDuty while still burning: shown, and a later escalation pages again', async () => {
    const service = 'resolved-in-pagerduty';
    const id = await openIncident(service);
    expect(await (await pagerDuty(pagerDutyEvent('incident.resolved', id))).json()).toEqual({ incident: id, changed: true });
    await eventually(
      () => JSON.stringify(messageOf(service)?.attachments ?? '').includes('Resolved in PagerDuty by Earline Greenholt at '),
      10_000,
      'the Slack message to say so',
    );
    expect((await detail(id)).timeline.find((event: any) => event.kind === 'pagerduty_resolved')).toMatchObject({ whileBurning: true });

    // De-escalation: nothing to PagerDuty, which holds nothing open.
    await send(webhook(service, [{ severity: 'warning' }, { severity: 'critical', status: 'resolved' }]));
    await eventually(async () => (await detail(id)).incident.severity === 'warning', 10_000, 'the de-escalation');
    await eventually(async () => (await detail(id)).receivers['oncall-pagerduty'].status === 'sent', 10_000, 'PagerDuty up to date');
    expect(pages(id)).toEqual(['trigger']);

    // A later escalation pages again.
    await send({
      ...webhook(service, [{ severity: 'warning' }, { severity: 'critical' }]),
      alerts: webhook(service, [{ severity: 'warning' }, { severity: 'critical' }]).alerts.map((alert) => ({ ...alert, startsAt: '2026-12-07T13:00:00Z' })),
    });
    await eventually(() => pages(id).length === 2, 10_000, 'a second page');
    expect(pages(id)).toEqual(['trigger', 'trigger']);
    await eventually(() => !JSON.stringify(messageOf(service)?.attachments ?? '').includes('Resolved in PagerDuty by'), 10_000, 'the message to drop the note');
  });

  it('the API acknowledges and unacknowledges, naming the actor; silencing a resolved incident is a 409, an unreachable Alertmanager a 502', async () => {
    const service = 'api-actions';
    const id = await openIncident(service);
    const ack = await admin(`/api/v1/incidents/${id}/ack`, { by: 'carol' });
    expect(ack.status).toBe(200);
    expect(await ack.json()).toMatchObject({ changed: true, incident: { id, acknowledged: { by: 'carol', userId: null, via: 'api' } } });
    expect(await (await admin(`/api/v1/incidents/${id}/ack`, { by: 'dave' })).json()).toMatchObject({
      changed: false,
      incident: { acknowledged: { by: 'carol' } },
    });
    await eventually(() => pages(id).includes('acknowledge'), 10_000, 'the acknowledge event at PagerDuty');

    const silence = await admin(`/api/v1/incidents/${id}/silence`, { by: 'carol', for: '1h', comment: 'deploying the fix' });
    expect(silence.status).toBe(502);
    expect(await silence.json()).toEqual({
      error: { code: 'alertmanager_unavailable', message: expect.stringMatching(new RegExp(`^no silence was created: ${deadAlertmanager}: cannot reach it`)) },
    });

    expect(await (await admin(`/api/v1/incidents/${id}/unack`, { by: 'carol' })).json()).toMatchObject({ changed: true, incident: { acknowledged: null } });
    const { timeline } = await detail(id);
    expect(timeline.map((event: any) => event.kind)).toEqual(expect.arrayContaining(['acknowledged', 'silence_failed', 'unacknowledged']));

    await send(webhook(service, [{ severity: 'critical', status: 'resolved' }]));
    await eventually(async () => (await detail(id)).incident.state === 'resolved', 10_000, 'the resolve');
    const refused = await admin(`/api/v1/incidents/${id}/silence`, { by: 'carol', for: '1h' });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toEqual({
      error: { code: 'incident_resolved', message: `incident ${id} is resolved: its alerts no longer fire, there is nothing to silence` },
    });
  });
});
