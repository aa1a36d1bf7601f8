import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildNotifiers, closeNotifiers, type ChannelSettings } from '../../src/notifiers/legacy/build.js';
import { composeMail } from '../../src/notifiers/legacy/email/message.js';
import { composePagerDutyEvent } from '../../src/notifiers/legacy/pagerduty/event.js';
import { renderAlert } from '../../src/notifiers/legacy/render/alert-view.js';
import { composeSlackMessage } from '../../src/notifiers/legacy/slack/message.js';
import type { ReceiverConfig } from '../../src/routing/types.js';
import { startSlackPeer } from '../peers/slack-peer.js';
import { startSmtpPeer } from '../peers/smtp-peer.js';
import { alertFixture, capturedLogger, NEVER_ABORTED, notificationFixture, redisScope } from './helpers.js';

const RECEIVERS: ReceiverConfig[] = [
  { name: 'team-slack', kind: 'slack', slack: { channel: '#alerts' } },
  { name: 'team-mail', kind: 'email', email: { to: ['oncall@maestro.example'] } },
  { name: 'team-mail-own-sender', kind: 'email', email: { to: ['db@maestro.example'], from: 'db-alerts@maestro.example' } },
  { name: 'pager-default-key', kind: 'pagerduty', pagerduty: {} },
  { name: 'pager-own-key', kind: 'pagerduty', pagerduty: { routingKey: 'OWNKEY00000000000000000000000000' } },
];

function settings(credentials: { botToken?: string; smtpUrl?: string; routingKey?: string }): ChannelSettings {
  return {
    slack: { botToken: credentials.botToken, apiUrl: 'http://127.0.0.1:1/api/', timeoutMs: 1000 },
    email: { smtpUrl: credentials.smtpUrl, from: 'AlertCenter <alerts@maestro.example>', timeoutMs: 1000, connections: 1 },
    pagerduty: { routingKey: credentials.routingKey, server: '127.0.0.1:1', timeoutMs: 1000 },
  };
}

let scope: ReturnType<typeof redisScope>;
let log: ReturnType<typeof capturedLogger>;

beforeEach(() => {
  scope = redisScope('build');
  log = capturedLogger();
});

afterEach(async () => {
  await scope.cleanup();
});

function build(channels: ChannelSettings) {
  return buildNotifiers(RECEIVERS, channels, { redis: scope.redis, keyPrefix: scope.keyPrefix, logger: log.logger });
}

describe('buildNotifiers', () => {
  it.each([
    [{}, ['team-slack', 'team-mail', 'team-mail-own-sender', 'pager-default-key']],
    [{ botToken: 'xoxb-1', smtpUrl: 'smtp://127.0.0.1:1', routingKey: 'DEFAULTKEY' }, []],
    [{ botToken: '', smtpUrl: '', routingKey: '' }, ['team-slack', 'team-mail', 'team-mail-own-sender', 'pager-default-key']],
    [{ botToken: 'xoxb-1' }, ['team-mail', 'team-mail-own-sender', 'pager-default-key']],
  ])('with credentials %j falls back to logging for %j', async (credentials, fallbacks) => {
    const built = build(settings(credentials));

    expect(built.fallbacks).toEqual(fallbacks);
    expect([...built.notifiers].map(([name, notifier]) => [name, notifier.kind, notifier.dryRun])).toEqual(
      RECEIVERS.map((receiver) => [receiver.name, receiver.kind, fallbacks.includes(receiver.name)]),
    );
    await closeNotifiers(built.notifiers.values());
  });

  it('logs exactly what each dry-run receiver would have sent', async () => {
    const { notifiers } = build(settings({}));
    const notification = notificationFixture(alertFixture());

    const receipts = [];
    for (const name of ['team-slack', 'team-mail-own-sender', 'pager-default-key']) {
      receipts.push(await notifiers.get(name)!.send({ ...notification, receiver: name }, NEVER_ABORTED));
    }

    expect(receipts.map((receipt) => receipt.action)).toEqual(['logged', 'logged', 'logged']);
    const entries = log.lines.map((line) => JSON.parse(line)).filter((entry) => entry.dryRun);
    expect(entries.map((entry) => [entry.receiver, entry.channel, entry.level, entry.status])).toEqual([
      ['team-slack', 'slack', 'info', 'firing'],
      ['team-mail-own-sender', 'email', 'info', 'firing'],
      ['pager-default-key', 'pagerduty', 'info', 'firing'],
    ]);
    expect(entries[0].wouldSend).toEqual({ channel: '#alerts', ...composeSlackMessage(renderAlert(notification.alert)) });
    expect(entries[1].wouldSend).toEqual(
      composeMail(
        { ...notification, receiver: 'team-mail-own-sender' },
        { from: 'db-alerts@maestro.example', to: ['db@maestro.example'] },
      ),
    );
    expect(entries[2].wouldSend).toEqual(JSON.parse(JSON.stringify(composePagerDutyEvent(notification))));
    expect(entries[2].wouldSend).not.toHaveProperty('routing_key');
  });

  it('builds notifiers that really send when credentials are set, and closes them', async () => {
    const slack = await startSlackPeer({ token: 'xoxb-build-test-token' });
    const smtp = await startSmtpPeer();
    const channels = settings({ botToken: 'xoxb-build-test-token', smtpUrl: smtp.url() });
    channels.slack.apiUrl = slack.url;
    const { notifiers, fallbacks } = build(channels);
    const notification = notificationFixture(alertFixture());

    const sent = [
      await notifiers.get('team-slack')!.send({ ...notification, receiver: 'team-slack' }, NEVER_ABORTED),
      await notifiers.get('team-mail')!.send({ ...notification, receiver: 'team-mail' }, NEVER_ABORTED),
    ];
    await closeNotifiers(notifiers.values());
    await Promise.all([slack.close(), smtp.close()]);

    expect(fallbacks).toEqual(['pager-default-key']);
    expect(sent.map((receipt) => receipt.action)).toEqual(['posted', 'sent']);
    expect(slack.messages.size).toBe(1);
    expect(smtp.received.map((mail) => mail.envelope)).toEqual([
      { from: 'alerts@maestro.example', to: ['oncall@maestro.example'] },
    ]);
  });
});
