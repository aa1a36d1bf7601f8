import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Counter } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startChannelPeers, type ChannelPeers } from '../peers/channel-peers.js';
import type { PagerDutyPeer } from '../peers/pagerduty-peer.js';
import type { SlackPeer } from '../peers/slack-peer.js';
import type { SmtpPeer } from '../peers/smtp-peer.js';
import { hasAlertmanager, startAlertmanager, type AlertmanagerProcess, type PostableAlert } from '../support/alertmanager.js';
import { cleanRedis, eventually, startTestRouter, type TestRouter } from '../support/router.js';
import { burnAlertRule, firingAlert, resolvedAlert } from './prometheus-alerts.js';

const WEBHOOK_TOKEN = 'e2e-webhook-token-5f1c';
const ADMIN_TOKEN = 'e2e-admin-token-9b27';
const SHIPPED_CONFIG = fileURLToPath(new URL('../../deploy/alertmanager/alertmanager.yml', import.meta.url));
/** Receivers per severity in the shipped routing/routes.yaml: warning -> email + Slack, critical -> PagerDuty. */
const RECEIVERS_PER_ALERT = { warning: 2, critical: 1 } as const;
/** Two Alertmanagers, each with its first notification and at least two repeats. */
const COPIES_WITH_REPEATS = 2 * 3;

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
 * The shipped Alertmanager config (grouping by incident key, send_resolved, bearer token from a
 * file), aimed at the test router, with timers of seconds instead of hours so repeats happen here.
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

async function total<T extends string>(counter: Counter<T>, labels: Partial<Record<T, string>> = {}): Promise<number> {
  const { values } = await counter.get();
  return values
    .filter((sample) => Object.entries(labels).every(([name, value]) => sample.labels[name as T] === value))
    .reduce((sum, sample) => sum + sample.value, 0);
}

const title = `Prometheus alerts through two unclustered Alertmanagers to the router and its channels${
  hasAlertmanager ? '' : ' (skipped: prometheus-alertmanager not installed)'
}`;

describe.skipIf(!hasAlertmanager)(title, () => {
  let peers: ChannelPeers;
  let slack: SlackPeer;
  let smtp: SmtpPeer;
  let pagerduty: PagerDutyPeer;
  let router: TestRouter;
  let tokenDir: string;
  const alertmanagers: AlertmanagerProcess[] = [];

  // A firing warning tier of one SLO and a critical tier of another: two incident keys, so two groups.
  const startsAt = new Date(Date.now() - 2 * 60_000);
  const warning = firingAlert(burnAlertRule({ slo: 'run-success', severity: 'warning', longWindow: '6h' }), 2.1, startsAt);
  const critical = firingAlert(burnAlertRule({ slo: 'api-latency', severity: 'critical', longWindow: '1h' }), 18.3, startsAt);
  const fingerprints = new Map<PostableAlert, string>();

  beforeAll(async () => {
    peers = await startChannelPeers();
    ({ slack, smtp, pagerduty } = peers);
    router = await startTestRouter({
      WEBHOOK_TOKENS: WEBHOOK_TOKEN,
      ADMIN_TOKEN,
      ...peers.env,
    });
    tokenDir = mkdtempSync(join(tmpdir(), 'alertcenter-e2e-token-'));
    const tokenFile = join(tokenDir, 'webhook.token');
    writeFileSync(tokenFile, WEBHOOK_TOKEN);
    const config = alertmanagerConfig(router.url, tokenFile);
    // Two replicas without a cluster between them: each one notifies on its own.
    alertmanagers.push(...(await Promise.all([startAlertmanager(config), startAlertmanager(config)])));
  });

  afterAll(async () => {
    await Promise.all(alertmanagers.map((alertmanager) => alertmanager.stop()));
    await router?.stop();
    await Promise.all([peers?.close(), router && cleanRedis(router.prefix)]);
    if (tokenDir) rmSync(tokenDir, { recursive: true, force: true });
  });

  /** Prometheus sends every alert to every Alertmanager it knows. */
  const postToAll = (alerts: PostableAlert[]) => Promise.all(alertmanagers.map((alertmanager) => alertmanager.postAlerts(alerts)));

  /**
   * Every webhook the Alertmanagers got through has been routed and every delivery job is done, so
   * the peers hold all they will ever get for them. (Each group holds one alert: one webhook, one alert.)
   */
  async function settled(): Promise<boolean> {
    const sent = (await Promise.all(alertmanagers.map((alertmanager) => alertmanager.successfulWebhooks()))).reduce((a, b) => a + b, 0);
    const { alertsReceived, notificationsRouted, notificationsDeduplicated } = router.metrics;
    if ((await total(alertsReceived)) !== sent) return false;
    const expected =
      (await total(alertsReceived, { severity: 'warning' })) * RECEIVERS_PER_ALERT.warning +
      (await total(alertsReceived, { severity: 'critical' })) * RECEIVERS_PER_ALERT.critical;
    if ((await total(notificationsRouted)) + (await total(notificationsDeduplicated)) !== expected) return false;
    const queues = Object.values(await router.deliveries.counts());
    return queues.every((counts) => counts.waiting! + counts.active! + counts.delayed! + counts.prioritized! === 0);
  }

  /** At least `copies` webhooks with an alert of this severity and status reached the router, and all is settled. */
  const receivedAndSettled = (severity: string, status: string, copies: number) => async () =>
    (await total(router.metrics.alertsReceived, { severity, status })) >= copies && (await settled());

  /** Everything each channel peer got, in order: one entry per message or API call. */
  const channels = () => ({
    email: smtp.received.map((mail) => mail.parsed.subject),
    slack: slack.received.map((call) => call.method),
    pagerduty: pagerduty.received.map((request) => `${request.event.event_action} ${request.event.dedup_key}`),
  });

  const adminGet = async (path: string) => {
    const response = await fetch(`${router.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(response.status).toBe(200);
    return (await response.json()) as any;
  };

  it('sends the firing warning to email and Slack, and pages PagerDuty for the critical one only', async () => {
    await postToAll([warning, critical]);
    // Both replicas fingerprint the alerts alike, from their labels; the router sees those fingerprints.
    const listed = await Promise.all(alertmanagers.map((alertmanager) => eventually(async () => {
      const alerts = await alertmanager.alerts();
      return alerts.length === 2 ? alerts : null;
    }, 10_000, 'both alerts in Alertmanager')));
    for (const alert of [warning, critical]) {
      const [first, second] = listed.map((alerts) => alerts.find((candidate) => candidate.labels.slo === alert.labels.slo));
      expect(first?.status.state).toBe('active');
      expect(second?.fingerprint).toBe(first?.fingerprint);
      fingerprints.set(alert, first!.fingerprint);
    }

    const mail = await eventually(() => smtp.received[0], 15_000, 'the warning email');
    expect(mail.parsed.subject).toBe('[WARNING] run-success SLO: 7.5% of error budget consumed (2.1x burn)');
    expect(mail.parsed.text).toContain(warning.annotations.runbook_url);
    const posted = await eventually(() => [...slack.messages.values()][0], 15_000, 'the warning Slack message');
    expect(posted.text).toContain('[WARNING] run-success SLO');
    const trigger = await eventually(() => pagerduty.received[0], 15_000, 'the page');
    expect(trigger.event).toMatchObject({
      event_action: 'trigger',
      payload: { severity: 'critical', summary: '[CRITICAL] api-latency SLO: 2.5% of error budget consumed (18.3x burn)' },
    });
    expect(trigger.event.dedup_key).toContain(fingerprints.get(critical));

    await eventually(settled, 15_000, 'the router to settle');
    expect(channels()).toEqual({
      email: ['[WARNING] run-success SLO: 7.5% of error budget consumed (2.1x burn)'],
      slack: ['chat.postMessage'],
      pagerduty: [`trigger ${trigger.event.dedup_key}`],
    });
  });

  it("sends nothing more for Alertmanager's repeats and the second Alertmanager's copies", async () => {
    await eventually(async () => {
      const perAlertmanager = await Promise.all(alertmanagers.map((alertmanager) => alertmanager.successfulWebhooks()));
      return (
        perAlertmanager.every((sent) => sent >= COPIES_WITH_REPEATS) &&
        (await receivedAndSettled('warning', 'firing', COPIES_WITH_REPEATS)()) &&
        (await receivedAndSettled('critical', 'firing', COPIES_WITH_REPEATS)())
      );
    }, 40_000, 'two repeats from each Alertmanager');
    expect(channels()).toEqual({
      email: ['[WARNING] run-success SLO: 7.5% of error budget consumed (2.1x burn)'],
      slack: ['chat.postMessage'],
      pagerduty: [expect.stringMatching(/^trigger /)],
    });
    expect(await total(router.metrics.notificationsDeduplicated, { receiver: 'oncall-pagerduty' })).toBeGreaterThanOrEqual(COPIES_WITH_REPEATS - 1);
  }, 50_000);

  it('resolves the PagerDuty incident on the same dedup_key when the critical alert resolves', async () => {
    await postToAll([resolvedAlert(critical)]);
    const resolve = await eventually(() => pagerduty.received.find((request) => request.event.event_action === 'resolve'), 15_000, 'the resolve');
    const [trigger] = pagerduty.received;
    expect(resolve.event.dedup_key).toBe(trigger!.event.dedup_key);
    expect(pagerduty.incidents.get(resolve.event.dedup_key)?.status).toBe('resolved');

    await eventually(receivedAndSettled('critical', 'resolved', 2), 15_000, "both Alertmanagers' resolved notifications");
    expect(channels()).toEqual({
      email: ['[WARNING] run-success SLO: 7.5% of error budget consumed (2.1x burn)'],
      slack: ['chat.postMessage'],
      pagerduty: [`trigger ${trigger!.event.dedup_key}`, `resolve ${trigger!.event.dedup_key}`],
    });
  });

  it('updates the Slack message in place and threads the resolved email under the firing one when the warning resolves', async () => {
    await postToAll([resolvedAlert(warning)]);
    const [firingMail] = smtp.received;
    const resolvedMail = await eventually(() => smtp.received[1], 15_000, 'the resolved email');
    expect(resolvedMail.parsed.subject).toMatch(/^\[RESOLVED\] run-success SLO/);
    expect(resolvedMail.parsed.inReplyTo).toBe(firingMail!.parsed.messageId);
    expect(resolvedMail.parsed.references).toBe(firingMail!.parsed.messageId);

    const original = await eventually(() => [...slack.messages.values()].find((message) => message.updates === 1), 15_000, 'chat.update');
    expect(original.text).toMatch(/^\[RESOLVED\] run-success SLO/);
    const reply = await eventually(() => [...slack.messages.values()].find((message) => message.thread_ts === original.ts), 15_000, 'the thread reply');
    expect(reply.text).toContain('Resolved');

    await eventually(receivedAndSettled('warning', 'resolved', 2), 15_000, "both Alertmanagers' resolved notifications");
    expect(channels()).toEqual({
      email: [firingMail!.parsed.subject, resolvedMail.parsed.subject],
      slack: ['chat.postMessage', 'chat.update', 'chat.postMessage'],
      pagerduty: [expect.stringMatching(/^trigger /), expect.stringMatching(/^resolve /)],
    });
    expect(slack.messages.size).toBe(2);
    expect(await total(router.metrics.notificationsFailed)).toBe(0);
  });

  it('lists both alerts in the AlertCenter with their final state and receivers', async () => {
    const { alerts } = await adminGet('/api/v1/alerts');
    const summary = (alerts as any[]).map(({ alert, receivers }) => ({
      fingerprint: alert.fingerprint,
      slo: alert.slo,
      severity: alert.severity,
      status: alert.status,
      startsAt: Date.parse(alert.startsAt),
      receivers: [...receivers].sort(),
    }));
    expect(summary).toEqual([
      { fingerprint: fingerprints.get(warning), slo: 'run-success', severity: 'warning', status: 'resolved', startsAt: startsAt.getTime(), receivers: ['ops-email', 'ops-slack'] },
      { fingerprint: fingerprints.get(critical), slo: 'api-latency', severity: 'critical', status: 'resolved', startsAt: startsAt.getTime(), receivers: ['oncall-pagerduty'] },
    ]);
    expect(await adminGet('/api/v1/alerts?status=firing')).toEqual({ alerts: [] });
    // Every webhook got in with the bearer token Alertmanager read from its credentials file.
    expect(await total(router.metrics.webhookRejections)).toBe(0);
  });
});
