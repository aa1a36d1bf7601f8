import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ReceiverConfig } from '../../src/domain/channels.js';
import { buildNotifiers, type ChannelSettings, closeNotifiers, renderSlack } from '../../src/notifiers/build.js';
import { composeIncidentMail } from '../../src/notifiers/email/message.js';
import { composePagerDutyEvent } from '../../src/notifiers/pagerduty/event.js';
import { renderIncident } from '../../src/notifiers/render/incident-view.js';
import { composeSlackMessage } from '../../src/notifiers/slack/message.js';
import { startSlackPeer } from '../peers/slack-peer.js';
import { startSmtpPeer } from '../peers/smtp-peer.js';
import { capturedLogger, NEVER_ABORTED } from './helpers.js';
import { contextOf, escalationStory, Teller } from './incidents.js';

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

const story = escalationStory();
const [first, escalated] = story as [(typeof story)[0], (typeof story)[0]];
let log: ReturnType<typeof capturedLogger>;

beforeEach(() => {
  log = capturedLogger();
});

function build(channels: ChannelSettings) {
  return buildNotifiers(RECEIVERS, channels, { logger: log.logger });
}

describe('buildNotifiers', () => {
  let built: ReturnType<typeof build> | undefined;

  afterEach(async () => {
    if (built) await closeNotifiers(built.notifiers.values());
    built = undefined;
  });

  it.each([
    [{}, ['team-slack', 'team-mail', 'team-mail-own-sender', 'pager-default-key']],
    [{ botToken: 'xoxb-1', smtpUrl: 'smtp://127.0.0.1:1', routingKey: 'DEFAULTKEY' }, []],
    [{ botToken: '', smtpUrl: '', routingKey: '' }, ['team-slack', 'team-mail', 'team-mail-own-sender', 'pager-default-key']],
    [{ botToken: 'xoxb-1' }, ['team-mail', 'team-mail-own-sender', 'pager-default-key']],
  ])('with credentials %j falls back to logging for %j', (credentials, fallbacks) => {
    built = build(settings(credentials));

    expect(built.fallbacks).toEqual(fallbacks);
    expect([...built.notifiers].map(([name, notifier]) => [name, notifier.kind, notifier.dryRun])).toEqual(
      RECEIVERS.map((receiver) => [receiver.name, receiver.kind, fallbacks.includes(receiver.name)]),
    );
  });

  it('gives a dry-run receiver the interests and update interval of the channel it stands in for', () => {
    const dry = build(settings({})).notifiers;
    built = build(settings({ botToken: 'xoxb-1', smtpUrl: 'smtp://127.0.0.1:1', routingKey: 'DEFAULTKEY' }));

    for (const name of ['team-slack', 'team-mail', 'pager-default-key']) {
      const [real, stand] = [built.notifiers.get(name)!, dry.get(name)!];
      expect([[...stand.interests].sort(), stand.minUpdateIntervalMs]).toEqual([[...real.interests].sort(), real.minUpdateIntervalMs]);
    }
    expect(built.notifiers.get('team-slack')!.minUpdateIntervalMs).toBe(3000);
    const channels = settings({ botToken: 'xoxb-1' });
    channels.slack.minUpdateIntervalMs = 10_000;
    expect(buildNotifiers(RECEIVERS.slice(0, 1), channels, { logger: log.logger }).notifiers.get('team-slack')!.minUpdateIntervalMs).toBe(10_000);
  });

  it('logs exactly what each dry-run receiver would have sent about the incident', async () => {
    const { notifiers } = build(settings({}));

    const results = [];
    for (const name of ['team-slack', 'team-mail-own-sender', 'pager-default-key']) {
      results.push(await notifiers.get(name)!.notify(contextOf(first, { receiver: name }), NEVER_ABORTED));
    }

    expect(results).toEqual(
      ['team-slack', 'team-mail-own-sender', 'pager-default-key'].map((name) => ({
        action: 'logged',
        receipt: { log: { id: `dry-run:inc-api-latency-7f3a9c:${name}` } },
      })),
    );
    const entries = log.lines.map((line) => JSON.parse(line)).filter((entry) => entry.dryRun);
    expect(entries.map((entry) => [entry.receiver, entry.channel, entry.level, entry.incident, entry.decision, entry.severity])).toEqual([
      ['team-slack', 'slack', 'info', 'inc-api-latency-7f3a9c', 'first_notification', 'warning'],
      ['team-mail-own-sender', 'email', 'info', 'inc-api-latency-7f3a9c', 'first_notification', 'warning'],
      ['pager-default-key', 'pagerduty', 'info', 'inc-api-latency-7f3a9c', 'first_notification', 'warning'],
    ]);
    const view = renderIncident(first.incident, first.now);
    expect(entries[0].wouldSend).toEqual({ method: 'chat.postMessage', channel: '#alerts', ...composeSlackMessage(view, 'team-slack') });
    expect(entries[1].wouldSend).toEqual(
      composeIncidentMail(contextOf(first, { receiver: 'team-mail-own-sender' }), { from: 'db-alerts@maestro.example', to: ['db@maestro.example'] }),
    );
    expect(entries[2].wouldSend).toEqual(JSON.parse(JSON.stringify(composePagerDutyEvent(contextOf(first)))));
    expect(entries[2].wouldSend).not.toHaveProperty('routing_key');
  });

  it('logs the update and the thread reply a dry-run Slack receiver would make once it was told', async () => {
    const slack = build(settings({})).notifiers.get('team-slack')!;
    const teller = new Teller(slack, 'team-slack');
    await teller.tell(first);
    const told = { ...teller.told!, receipt: { slack: { channel: 'CALERTS', ts: '1795773660.000001' } } };

    const wouldSend = renderSlack('#alerts', contextOf(escalated, { receiver: 'team-slack', told })) as Record<string, any>;

    expect(wouldSend).toMatchObject({ method: 'chat.update', channel: 'CALERTS', ts: '1795773660.000001' });
    expect(wouldSend.reply).toMatchObject({
      thread_ts: '1795773660.000001',
      text: expect.stringMatching(/^:rotating_light: Escalated from WARNING to CRITICAL/),
    });
  });

  it('builds notifiers that really send when credentials are set, and closes them', async () => {
    const slack = await startSlackPeer({ token: 'xoxb-build-test-token' });
    const smtp = await startSmtpPeer();
    const channels = settings({ botToken: 'xoxb-build-test-token', smtpUrl: smtp.url() });
    channels.slack.apiUrl = slack.url;
    const { notifiers, fallbacks } = build(channels);

    const sent = [
      await notifiers.get('team-slack')!.notify(contextOf(first, { receiver: 'team-slack' }), NEVER_ABORTED),
      await notifiers.get('team-mail')!.notify(contextOf(first, { receiver: 'team-mail' }), NEVER_ABORTED),
    ];
    await closeNotifiers(notifiers.values());
    await Promise.all([slack.close(), smtp.close()]);

    expect(fallbacks).toEqual(['pager-default-key']);
    expect(sent.map((result) => result.action)).toEqual(['posted', 'sent']);
    expect(slack.messages.size).toBe(1);
    expect(smtp.received.map((mail) => mail.envelope)).toEqual([{ from: 'alerts@maestro.example', to: ['oncall@maestro.example'] }]);
  });
});
