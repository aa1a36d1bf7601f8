import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ChannelPeers, startChannelPeers } from '../peers/channel-peers.js';
import { routingFile, tier, webhook } from '../support/incident-webhooks.js';
import { cleanRedis, eventually, startTestRouter, type TestRouter } from '../support/router.js';

const WEBHOOK = '/api/v1/webhooks/alertmanager';

describe('channels converge on one incident per SLO (router, Redis and the three peers)', () => {
  let peers: ChannelPeers;
  let router: TestRouter;

  beforeAll(async () => {
    peers = await startChannelPeers();
    router = await startTestRouter({
      ...peers.env,
      ROUTING_FILE: routingFile(),
      DELIVERY_ATTEMPTS: '5',
      DELIVERY_BACKOFF: '1s',
      DELIVERY_TIMEOUT: '3s',
    });
  });
  afterEach(() => {
    peers.slack.setBehavior({ kind: 'ok' });
    peers.pagerduty.setBehavior({ kind: 'ok' });
  });
  afterAll(async () => {
    await router.stop();
    await Promise.all([peers.close(), cleanRedis(router.prefix)]);
  });

  const send = async (payload: object) => {
    const res = await request(router.server).post(WEBHOOK).send(payload);
    expect(res.status).toBe(202);
  };
  const incidentOf = async (service: string) => {
    const res = await request(router.server).get('/api/v1/incidents');
    return (res.body.incidents as any[]).find((incident) => incident.service === service);
  };
  const detail = async (id: string) => (await request(router.server).get(`/api/v1/incidents/${id}`)).body;
  /** Events of the incident's dedup_key (a resolve carries no payload to recognise it by). */
  const pagesFor = (service: string) => {
    const key = peers.pagerduty.received.find((r) => JSON.stringify(r.event).includes(service))?.event.dedup_key;
    return peers.pagerduty.received.filter((r) => key !== undefined && r.event.dedup_key === key);
  };
  const slackCalls = (service: string, method: string) =>
    peers.slack.received.filter((call) => call.method === method && JSON.stringify(call.args).includes(service));
  /** Thread replies under the incident's message (their text need not name the service). */
  const repliesTo = (service: string) => {
    const message = [...peers.slack.messages.values()].find((m) => m.thread_ts === undefined && JSON.stringify(m).includes(service));
    return peers.slack.received.filter((call) => call.method === 'chat.postMessage' && call.args.thread_ts === message?.ts);
  };
  const mailsFor = (service: string) => peers.smtp.received.filter((mail) => mail.raw.includes(service));
  /** Every receiver told the incident's latest state, and no sync left in any queue. */
  const settled = async (service: string) => {
    const incident = await incidentOf(service);
    if (!incident) return false;
    const { receivers } = await detail(incident.id);
    const counts = await router.syncs.counts();
    const busy = Object.values(counts).some((c) => (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0) > 0);
    return !busy && Object.values(receivers as Record<string, { status: string }>).every((r) => r.status === 'sent' || r.status === 'not_notified')
      ? incident
      : false;
  };

  it('a trigger that failed is not retried after the resolve: PagerDuty ends with nothing open', async () => {
    const service = 'order-fault-pd';
    peers.pagerduty.setBehavior({ kind: 'http_error', status: 500 }, 1);
    await send(webhook(tier({ service, severity: 'critical' })));
    await eventually(() => pagesFor(service).length === 1, 10_000, 'the first trigger (answered 500)');
    await send(webhook(tier({ service, severity: 'critical', status: 'resolved' })));
    const incident = await eventually(
      async () => {
        const found = await incidentOf(service);
        return found?.state === 'resolved' && (await settled(service)) ? found : false;
      },
      20_000,
      'the incident to resolve and every sync to finish',
    );
    expect(incident.state).toBe('resolved');
    // The retry ran after the resolve and sent nothing: no trigger reached PagerDuty after the resolve.
    expect(pagesFor(service).map((r) => r.event.event_action)).toEqual(['trigger']);
    expect([...peers.pagerduty.incidents.values()].filter((i) => i.summary.includes(service) && i.status === 'triggered')).toEqual([]);
    const { timeline } = await detail(incident.id);
    expect(timeline.map((event: any) => event.kind)).toContain('notification_failed');
  });

  it('a Slack post throttled once is not made after the resolve', async () => {
    const service = 'order-fault-slack';
    peers.slack.setBehavior({ kind: 'rate_limited', retryAfterSeconds: 1 }, 1);
    await send(webhook(tier({ service, severity: 'warning' })));
    await eventually(() => slackCalls(service, 'chat.postMessage').length === 1, 10_000, 'the first post (answered 429)');
    await send(webhook(tier({ service, severity: 'warning', status: 'resolved' })));
    await eventually(async () => (await incidentOf(service))?.state === 'resolved' && (await settled(service)), 20_000, 'resolve and syncs');
    expect([...peers.slack.messages.values()].filter((m) => JSON.stringify(m).includes(service))).toEqual([]);
  });

  it('one SLO escalating and back: one message, one page, one mail thread, converging on each change', async () => {
    const service = 'escalation';
    const warning = tier({ service, severity: 'warning' });
    const critical = tier({ service, severity: 'critical' });

    await send(webhook(warning));
    await eventually(() => settled(service), 15_000, 'the warning to reach Slack and email');
    expect(slackCalls(service, 'chat.postMessage')).toHaveLength(1);
    expect(mailsFor(service)).toHaveLength(1);
    expect(pagesFor(service)).toHaveLength(0);

    await send(webhook(warning, critical));
    await eventually(async () => (await incidentOf(service))?.severity === 'critical' && (await settled(service)), 15_000, 'the escalation everywhere');
    expect(pagesFor(service).map((r) => [r.event.event_action, r.event.payload?.severity])).toEqual([['trigger', 'critical']]);
    const posts = slackCalls(service, 'chat.postMessage');
    expect(posts.filter((call) => call.args.thread_ts === undefined)).toHaveLength(1);
    expect(repliesTo(service).length).toBe(1);
    expect(slackCalls(service, 'chat.update').length).toBeGreaterThanOrEqual(1);
    const mails = mailsFor(service);
    expect(mails).toHaveLength(2);
    expect(mails[1]!.parsed.inReplyTo).toBe(mails[0]!.parsed.messageId);

    await send(webhook(warning, { ...critical, status: 'resolved', endsAt: '2026-12-07T12:20:00Z' }));
    await eventually(async () => (await incidentOf(service))?.severity === 'warning' && (await settled(service)), 15_000, 'the de-escalation everywhere');
    expect(pagesFor(service).map((r) => r.event.event_action)).toEqual(['trigger', 'trigger']);
    expect(JSON.stringify(pagesFor(service)[1]!.event.payload.custom_details)).toMatch(/warning/i);
    expect(mailsFor(service)).toHaveLength(3);
    expect(repliesTo(service).length).toBe(2);

    await send(webhook({ ...warning, status: 'resolved', endsAt: '2026-12-07T12:30:00Z' }));
    const resolved = await eventually(
      async () => {
        const found = await incidentOf(service);
        return found?.state === 'resolved' && (await settled(service)) ? found : false;
      },
      15_000,
      'the resolve everywhere',
    );
    expect(pagesFor(service).map((r) => r.event.event_action)).toEqual(['trigger', 'trigger', 'resolve']);
    expect(slackCalls(service, 'chat.postMessage').filter((call) => call.args.thread_ts === undefined)).toHaveLength(1);
    expect(repliesTo(service).length).toBe(3);
    const thread = mailsFor(service);
    expect(thread).toHaveLength(4);
    expect(new Set(thread.map((mail) => mail.parsed.subject?.replace(/^Re: /, '')))).toEqual(new Set([thread[0]!.parsed.subject]));
    const { timeline } = await detail(resolved.id);
    expect(timeline.map((event: any) => event.kind)).toEqual(
      expect.arrayContaining(['opened', 'tier_fired', 'escalated', 'de_escalated', 'tier_cleared', 'resolving', 'resolved', 'notification_sent']),
    );
  });

  it('flapping within the hold-down: no new page and no new message', async () => {
    const service = 'flapping';
    const first = tier({ service, severity: 'warning' });
    await send(webhook(first));
    await eventually(() => settled(service), 15_000, 'the first notification');
    await send(webhook({ ...first, status: 'resolved', endsAt: '2026-12-07T12:05:00Z' }));
    await eventually(async () => (await incidentOf(service))?.state === 'resolving', 10_000, 'resolving');
    await send(webhook(tier({ service, severity: 'warning', startsAt: '2026-12-07T12:06:00Z' })));
    const incident = await eventually(
      async () => {
        const found = await incidentOf(service);
        return found?.state === 'open' && (await settled(service)) ? found : false;
      },
      10_000,
      'the incident to continue',
    );
    const { timeline } = await detail(incident.id);
    expect(timeline.map((event: any) => event.kind)).toContain('flapped');
    expect(slackCalls(service, 'chat.postMessage').filter((call) => call.args.thread_ts === undefined)).toHaveLength(1);
    expect(mailsFor(service)).toHaveLength(1);
    expect((await request(router.server).get('/api/v1/incidents')).body.incidents.filter((i: any) => i.service === service)).toHaveLength(1);
  });
});
