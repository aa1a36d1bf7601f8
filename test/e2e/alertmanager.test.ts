import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { Counter, Histogram } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type ChannelPeers, startChannelPeers } from '../peers/channel-peers.js';
import { type AlertmanagerProcess, hasAlertmanager, type PostableAlert, startAlertmanager } from '../support/alertmanager.js';
import { cleanRedis, eventually, REDIS_URL, startTestRouter, type TestRouter, testPrefix, unprocessedWebhooks } from '../support/router.js';
import { shippedRoutingWith } from '../support/routing-file.js';
import { burnAlertRule, firingAlert, resolvedAlert } from './prometheus-alerts.js';

const WEBHOOK_TOKEN = 'e2e-webhook-token-5f1c';
const ADMIN_TOKEN = 'e2e-admin-token-9b27';
const SHIPPED_CONFIG = fileURLToPath(new URL('../../deploy/alertmanager/alertmanager.yml', import.meta.url));
/** Repeats each Alertmanager sends of each group while the test waits: with the shortened timers, a few seconds. */
const REPEATS = 2;

interface WebhookConfig {
  url: string;
  http_config: { authorization: { credentials_file: string } };
}
interface Route {
  group_wait?: string;
  group_interval?: string;
  repeat_interval?: string;
  routes?: Route[];
}
interface AlertmanagerConfig {
  route: Route;
  receivers: Array<{ webhook_configs: WebhookConfig[] }>;
}

/**
 * The shipped Alertmanager config (grouping by incident key, no inhibition, send_resolved, bearer
 * token from a file), aimed at one router replica, with timers of seconds instead of hours so
 * repeats happen here.
 */
function alertmanagerConfig(routerUrl: string, tokenFile: string): AlertmanagerConfig {
  const config = parse(readFileSync(SHIPPED_CONFIG, 'utf8')) as AlertmanagerConfig;
  Object.assign(config.route, { group_wait: '1s', group_interval: '2s', repeat_interval: '4s' });
  // Sub-routes inherit the root's timers.
  for (const route of config.route.routes ?? []) {
    delete route.group_wait;
    delete route.group_interval;
    delete route.repeat_interval;
  }
  for (const webhook of config.receivers.flatMap((receiver) => receiver.webhook_configs)) {
    webhook.url = `${routerUrl}${new URL(webhook.url).pathname}`;
    webhook.http_config.authorization.credentials_file = tokenFile;
  }
  return config;
}

async function total<T extends string>(metric: Counter<T> | Histogram<T>, labels: Partial<Record<T, string>> = {}, name?: string): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter(
      (sample) =>
        (name === undefined || (sample as { metricName?: string }).metricName === name) &&
        Object.entries(labels).every(([label, value]) => String(sample.labels[label as T]) === value),
    )
    .reduce((sum, sample) => sum + sample.value, 0);
}

/** What Prometheus's recording rules answer for the annotations' template queries (the burn now, the budget left). */
const QUERIES = {
  'slo:sli_error:ratio_rate5m{slo="api-latency"} / 0.005': 31.4,
  'slo:sli_error:ratio_rate30m{slo="api-latency"} / 0.005': 16.2,
  'slo:error_budget_remaining:ratio{slo="api-latency"}': 0.8125,
};

const title = `One SLO through two unclustered Alertmanagers (shipped config) to two router replicas: one incident, one page, one Slack message, one mail thread${
  hasAlertmanager ? '' : ' (skipped: prometheus-alertmanager not installed)'
}`;

describe.skipIf(!hasAlertmanager)(title, () => {
  const prefix = testPrefix();
  let peers: ChannelPeers;
  let redis: Redis;
  const replicas: TestRouter[] = [];
  let tokenDir: string;
  const alertmanagers: AlertmanagerProcess[] = [];

  // The burn tiers of one SLO (api-latency on maestro-api): the warning fires, then both critical tiers.
  const startsAt = new Date(Date.now() - 2 * 60_000);
  const rule = (severity: 'warning' | 'critical', longWindow: string) => burnAlertRule({ slo: 'api-latency', severity, longWindow });
  const warning = firingAlert(rule('warning', '6h'), 6.9, startsAt, new Date(), QUERIES);
  const critical1h = firingAlert(rule('critical', '1h'), 18.3, startsAt, new Date(), QUERIES);
  const critical6h = firingAlert(rule('critical', '6h'), 13.2, startsAt, new Date(), QUERIES);

  beforeAll(async () => {
    peers = await startChannelPeers();
    redis = new Redis(REDIS_URL);
    // Two replicas of the router on one Redis (one key prefix), each with its own workers.
    const env = { WEBHOOK_TOKENS: WEBHOOK_TOKEN, ADMIN_TOKEN, REDIS_PREFIX: prefix, ROUTING_FILE: shippedRoutingWith({ resolveHold: '1s' }), ...peers.env };
    replicas.push(...(await Promise.all([startTestRouter(env), startTestRouter(env)])));
    tokenDir = mkdtempSync(join(tmpdir(), 'alertcenter-e2e-token-'));
    const tokenFile = join(tokenDir, 'webhook.token');
    writeFileSync(tokenFile, WEBHOOK_TOKEN);
    // Two Alertmanagers without a cluster between them: each one notifies on its own, each to its own replica.
    alertmanagers.push(...(await Promise.all(replicas.map((replica) => startAlertmanager(alertmanagerConfig(replica.url, tokenFile))))));
  });

  afterAll(async () => {
    await Promise.all(alertmanagers.map((alertmanager) => alertmanager.stop()));
    await Promise.all(replicas.map((replica) => replica.stop()));
    redis?.disconnect();
    await Promise.all([peers?.close(), cleanRedis(prefix)]);
    if (tokenDir) rmSync(tokenDir, { recursive: true, force: true });
  });

  /** Prometheus sends every alert to every Alertmanager it knows. */
  const postToAll = (alerts: PostableAlert[]) => Promise.all(alertmanagers.map((alertmanager) => alertmanager.postAlerts(alerts)));
  const webhooksSent = async () => (await Promise.all(alertmanagers.map((alertmanager) => alertmanager.successfulWebhooks()))).reduce((a, b) => a + b, 0);
  const accepted = async () => {
    const counts = await Promise.all(
      replicas.map((replica) =>
        total(replica.metrics.httpRequestDuration, { route: '/api/v1/webhooks/alertmanager', status_code: '202' }, 'http_request_duration_seconds_count'),
      ),
    );
    return counts.reduce((a, b) => a + b, 0);
  };

  const adminGet = async (path: string) => {
    const response = await fetch(`${replicas[0]!.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(response.status).toBe(200);
    return (await response.json()) as any;
  };
  const incidents = async () => (await adminGet('/api/v1/incidents?slo=api-latency')).incidents as any[];

  /**
   * Every webhook the Alertmanagers got through was stored and processed, no sync waits or runs, and
   * the incident's receivers are all up to date: the peers hold all they will get for now.
   */
  async function settled(): Promise<any> {
    if ((await accepted()) < (await webhooksSent())) return false;
    if ((await unprocessedWebhooks(redis, prefix)) > 0) return false;
    const queues = Object.values(await replicas[0]!.syncs.counts());
    if (queues.some((counts) => counts.waiting! + counts.active! + counts.delayed! + counts.prioritized! > 0)) return false;
    const [incident] = await incidents();
    if (!incident) return false;
    const { receivers } = await adminGet(`/api/v1/incidents/${incident.id}`);
    return Object.values(receivers as Record<string, { status: string }>).every((r) => r.status === 'sent' || r.status === 'not_notified') ? incident : false;
  }

  /** Everything each channel got, in order. */
  const slackPosts = () => peers.slack.received.filter((call) => call.method === 'chat.postMessage');
  const topLevel = () => [...peers.slack.messages.values()].filter((message) => message.thread_ts === undefined);
  const replies = () => [...peers.slack.messages.values()].filter((message) => message.thread_ts !== undefined);
  const replyDecisions = () => replies().map((message) => message.metadata?.event_payload.decision);
  const channels = () => ({
    pagerduty: peers.pagerduty.received.map((request) => `${request.event.event_action} ${request.event.payload?.severity ?? ''}`.trim()),
    slackMessages: topLevel().length,
    slackReplies: replyDecisions(),
    slackUpdates: peers.slack.received.filter((call) => call.method === 'chat.update').length,
    mails: peers.smtp.received.length,
  });

  it('the warning tier opens the incident: one Slack message and one mail, no page', async () => {
    await postToAll([warning]);
    const incident = await eventually(settled, 30_000, 'the warning to reach Slack and email');
    expect(incident).toMatchObject({ state: 'open', severity: 'warning', slo: 'api-latency', service: 'maestro-api' });
    expect(channels()).toMatchObject({ pagerduty: [], slackMessages: 1, slackReplies: [], mails: 1 });
    // The annotations' queries reached the message: the burn now (the warning's 30m window) and the budget left, not the threshold's.
    expect(topLevel()[0]!.text).toContain('burning 16.2x now');
    expect(topLevel()[0]!.text).toContain('81.3% of it is left');
  });

  it("both critical tiers escalate it in place: one page; repeats and the other Alertmanager's copies add nothing", async () => {
    await postToAll([critical1h, critical6h]);
    await eventually(async () => (await settled())?.severity === 'critical', 30_000, 'the escalation on every channel');
    const afterEscalation = channels();
    expect(afterEscalation).toMatchObject({ pagerduty: ['trigger critical'], slackMessages: 1, slackReplies: ['escalated'], mails: 2 });
    expect(afterEscalation.slackUpdates).toBeGreaterThanOrEqual(1);

    // Each Alertmanager repeats both groups (the warning's and the critical one's) REPEATS times more.
    const before = await Promise.all(alertmanagers.map((alertmanager) => alertmanager.successfulWebhooks()));
    await eventually(
      async () => {
        const now = await Promise.all(alertmanagers.map((alertmanager) => alertmanager.successfulWebhooks()));
        return now.every((sent, i) => sent >= before[i]! + 2 * REPEATS) && (await settled());
      },
      60_000,
      `${REPEATS} repeats of both groups from each Alertmanager`,
    );
    expect(channels()).toEqual(afterEscalation);
    const unchanged = await Promise.all(replicas.map((replica) => total(replica.metrics.alertCopies, { outcome: 'unchanged' })));
    expect(
      unchanged.every((count) => count > 0),
      'both replicas took repeats that changed nothing',
    ).toBe(true);
    expect(await incidents()).toHaveLength(1);
  }, 90_000);

  it('the critical tiers clear: de-escalated on every channel, no second page', async () => {
    await postToAll([resolvedAlert(critical1h), resolvedAlert(critical6h)]);
    await eventually(async () => (await settled())?.severity === 'warning', 30_000, 'the de-escalation on every channel');
    expect(channels()).toMatchObject({
      pagerduty: ['trigger critical', 'trigger critical'],
      slackMessages: 1,
      slackReplies: ['escalated', 'de_escalated'],
      mails: 3,
    });
    // PagerDuty cannot lower urgency: the de-escalation is in custom_details.
    expect(peers.pagerduty.received[1]!.event.payload.custom_details['Current severity']).toBe('warning');
  });

  it('the warning clears: after the hold-down, one resolve per channel; one incident, one page, one message, one thread', async () => {
    await postToAll([resolvedAlert(warning)]);
    const incident = await eventually(
      async () => {
        const found = await settled();
        return found?.state === 'resolved' ? found : false;
      },
      30_000,
      'the resolve on every channel',
    );

    expect(channels()).toMatchObject({
      pagerduty: ['trigger critical', 'trigger critical', 'resolve'],
      slackMessages: 1,
      slackReplies: ['escalated', 'de_escalated', 'resolved'],
      mails: 4,
    });
    // One incident, one page: one dedup_key, and PagerDuty ends with it resolved.
    expect(await incidents()).toHaveLength(1);
    expect(new Set(peers.pagerduty.received.map((request) => request.event.dedup_key))).toEqual(new Set([`alertcenter/incident/${incident.id}`]));
    expect([...peers.pagerduty.incidents.values()].map((page) => page.status)).toEqual(['resolved']);
    // One Slack message, updated in place, every reply in its thread; no post failed and none was repeated.
    const [message] = topLevel();
    expect(message!.metadata?.event_payload).toMatchObject({ incident_id: incident.id, state: 'resolved' });
    expect(replies().every((reply) => reply.thread_ts === message!.ts)).toBe(true);
    expect(slackPosts()).toHaveLength(4);
    // One mail thread under one subject.
    const mails = peers.smtp.received.map((mail) => mail.parsed);
    expect(mails.slice(1).map((mail) => mail.inReplyTo)).toEqual(Array(3).fill(mails[0]!.messageId));
    expect(new Set(mails.map((mail) => mail.subject?.replace(/^Re: /, '')))).toEqual(new Set([mails[0]!.subject]));

    // Every webhook got in with the bearer token Alertmanager read from its credentials file; nothing failed.
    for (const replica of replicas) {
      expect(await total(replica.metrics.webhookRejections)).toBe(0);
      expect(await total(replica.metrics.notificationsFailed)).toBe(0);
    }
  });

  it('lists the three alerts in the AlertCenter, each naming the one incident', async () => {
    const [incident] = await incidents();
    const { alerts } = await adminGet('/api/v1/alerts');
    const summary = (alerts as any[]).map(({ alert, incident: id }) => `${alert.severity} ${alert.longWindow} ${alert.status} ${id}`).sort();
    expect(summary).toEqual([`critical 1h resolved ${incident.id}`, `critical 6h resolved ${incident.id}`, `warning 6h resolved ${incident.id}`]);
  });
});
