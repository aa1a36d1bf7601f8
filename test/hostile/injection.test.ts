import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Incident } from '../../src/incidents/types.js';
import { buildNotifiers, closeNotifiers } from '../../src/notifiers/build.js';
import type { IncidentNotifier } from '../../src/notifiers/types.js';
import { createLogger } from '../../src/observability/logger.js';
import { escalationStory, incident, Teller, warningTier } from '../notifiers/incidents.js';
import { type ChannelPeers, PEER_ROUTING_KEY, PEER_SLACK_TOKEN, startChannelPeers } from '../peers/channel-peers.js';
import type { PagerDutyPeer } from '../peers/pagerduty-peer.js';
import type { SlackCall, SlackPeer } from '../peers/slack-peer.js';
import type { ReceivedMail, SmtpPeer } from '../peers/smtp-peer.js';
import { burnRatePayload } from '../support/payloads.js';
import { cleanRedis, eventually, startTestRouter, type TestRouter } from '../support/router.js';
import { printFigures } from './figures.js';

const RECIPIENT = 'oncall@maestro.example';
const ROUTING_FILE = fileURLToPath(new URL('fixtures/all-channels.yaml', import.meta.url));

/** Each family of tricks, as an attacker who controls a label or an annotation would write it. */
const TRICKS = {
  mentions: '<!channel> <!here> <!everyone> <@U123> <#C123> <!subteam^S123>',
  html: '<script>alert(1)</script><img src=x onerror=alert(1)><a href="javascript:alert(1)">x</a>',
  headers: 'x\r\nBcc: victim@example.com\r\nX-Injected: yes',
  links: '[click](http://evil.example) <http://evil.example|click> <mailto:victim@example.com|mail>',
  templates: '{{ .Labels }} ${HOME} {{7*7}} #{7*7} <%= 7*7 %> $(id) %s%n',
};
const EVERY_TRICK = Object.values(TRICKS).join(' | ');
const MARKER = `inj${process.pid}`;

function hostileWebhook(): any {
  const payload = burnRatePayload({ seed: MARKER, severity: 'warning' });
  const [alert] = payload.alerts;
  Object.assign(alert.labels, {
    instance: MARKER,
    alertname: `Burn ${TRICKS.mentions}`,
    // The SLO name makes the title: the Slack header and fallback, the email subject, the PagerDuty summary.
    slo: `api ${TRICKS.headers} ${TRICKS.mentions}`,
    service: TRICKS.html,
    team: TRICKS.links,
    template: TRICKS.templates,
    // Alertmanager 0.27+ allows any UTF-8 label name.
    [TRICKS.mentions]: 'label name',
  });
  alert.annotations = {
    ...alert.annotations,
    summary: EVERY_TRICK,
    description: Object.values(TRICKS).join('\n'),
    runbook_url: 'javascript:alert(1)',
    dashboard_url: 'http://dashboards.example/"><script>alert(1)</script>',
  };
  return payload;
}

/** Every mrkdwn text of a Slack message (the fallback `text` is mrkdwn too). */
function mrkdwnTexts(value: unknown, found: Array<{ text: string; verbatim: unknown }> = []): Array<{ text: string; verbatim: unknown }> {
  if (Array.isArray(value)) value.forEach((item) => mrkdwnTexts(item, found));
  else if (value !== null && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    if (object.type === 'mrkdwn' && typeof object.text === 'string') found.push({ text: object.text, verbatim: object.verbatim });
    Object.values(object).forEach((item) => mrkdwnTexts(item, found));
  }
  return found;
}

const unescapeSlack = (text: string) => text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

describe('injection through labels and annotations, webhook to every channel', () => {
  let peers: ChannelPeers;
  let slack: SlackPeer;
  let smtp: SmtpPeer;
  let pagerduty: PagerDutyPeer;
  let router: TestRouter;

  beforeAll(async () => {
    peers = await startChannelPeers();
    ({ slack, smtp, pagerduty } = peers);
    router = await startTestRouter({
      ROUTING_FILE,
      ...peers.env,
      DELIVERY_ATTEMPTS: '2',
    });
    const res = await request(router.server).post('/api/v1/webhooks/alertmanager').send(hostileWebhook());
    expect(res.status).toBe(202);
  });

  afterAll(async () => {
    await router?.stop();
    await Promise.all([peers?.close(), router && cleanRedis(router.prefix)]);
  });

  it('Slack: every mrkdwn text escapes < > &, so nothing pings, links or formats; the text still arrives whole', async () => {
    const call = await eventually(
      () => slack.received.find((c) => c.method === 'chat.postMessage' && JSON.stringify(c.args).includes(MARKER)),
      15_000,
      'the Slack message',
    );
    expectSlackInert(call);
  });

  it('email: no header or recipient injected, HTML escaped, no script or javascript: link, templates literal', async () => {
    const mail = await eventually(() => smtp.received.find((m) => m.parsed.text?.includes(MARKER)), 15_000, 'the email');
    expectMailInert(mail);
    // The subject keeps the trick as text on one line.
    expect(mail.parsed.subject).toContain('api x Bcc: victim@example.com X-Injected: yes');
  });

  it('PagerDuty: the event carries the text as JSON data, exactly as sent, with one-line summary fields', async () => {
    const { event } = await eventually(() => pagerduty.received.find((r) => JSON.stringify(r.event).includes(MARKER)), 15_000, 'the PagerDuty event');
    expectPagerDutyEventInert(event);
    expect(pagerduty.incidents.get(event.dedup_key)?.status).toBe('triggered');
    expect(event.payload.custom_details.Summary).toBe(EVERY_TRICK);

    printFigures('injection', {
      tricks: Object.keys(TRICKS).length,
      channels: { slack: slack.received.length, email: smtp.received.length, pagerduty: pagerduty.received.length },
    });
  });
});

/** Slack: every mrkdwn text escapes < > &, so nothing pings, links or formats; the text still arrives whole. */
function expectSlackInert(call: SlackCall): void {
  expect(call.args).toMatchObject({ parse: 'none', link_names: 'false' });
  // chat.update takes no unfurl arguments (an update is not unfurled); a post says none.
  if (call.method === 'chat.postMessage') expect(call.args).toMatchObject({ unfurl_links: 'false', unfurl_media: 'false' });
  const texts = [{ text: call.args.text as string, verbatim: true }, ...mrkdwnTexts(call.args.attachments)];
  expect(texts.length).toBeGreaterThan(3);
  for (const { text, verbatim } of texts) {
    // In mrkdwn, < starts every mention and link: none may be left raw.
    expect(text).not.toMatch(/[<>]/);
    expect(verbatim).toBe(true);
  }
  const all = texts.map(({ text }) => text).join('\n');
  expect(all).toContain('&lt;!channel&gt; &lt;!here&gt; &lt;!everyone&gt; &lt;@U123&gt; &lt;#C123&gt;');
  expect(all).toContain('&lt;http://evil.example|click&gt;');
  expect(all).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  // Delivered as data, not dropped: unescaped, the summary is what was sent, templates unevaluated.
  expect(unescapeSlack(all)).toContain(EVERY_TRICK);
  expect(all).toContain('{{ .Labels }} ${HOME} {{7*7}} #{7*7}');
  for (const button of JSON.stringify(call.args.attachments).match(/"url":"[^"]*"/g) ?? []) {
    expect(button).toMatch(/^"url":"https?:\/\//);
  }
}

/** Email: no header or recipient injected, HTML escaped, no script or javascript: link, templates literal. */
function expectMailInert(mail: ReceivedMail): void {
  expect(mail.envelope.to).toEqual([RECIPIENT]);
  expect(mail.parsed.bcc).toBeUndefined();
  expect(mail.parsed.cc).toBeUndefined();
  const to = Array.isArray(mail.parsed.to) ? mail.parsed.to : [mail.parsed.to];
  expect(to.flatMap((address) => address?.value.map((v) => v.address) ?? [])).toEqual([RECIPIENT]);
  expect(mail.parsed.headers.has('x-injected')).toBe(false);
  const headerBlock = mail.raw.slice(0, mail.raw.indexOf('\r\n\r\n'));
  expect(headerBlock).not.toMatch(/^(bcc|x-injected):/im);
  expect(mail.parsed.subject).not.toMatch(/[\r\n]/);

  const html = mail.parsed.html as string;
  expect(html).not.toMatch(/<script|<img|<a href="javascript:/i);
  expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;');
  expect(html).toContain('&lt;!channel&gt;');
  // Links: only the http(s) ones the router made, their URLs escaped in the attribute.
  for (const href of html.match(/href="[^"]*"/g) ?? []) expect(href).toMatch(/^href="https?:\/\/[^<>"]*"$/);

  expect(mail.parsed.text).toContain(TRICKS.templates);
  expect(mail.parsed.text).toContain(TRICKS.mentions);
}

/** PagerDuty: the event carries the text as JSON data, exactly as sent, with one-line summary fields. */
function expectPagerDutyEventInert(event: any): void {
  expect(Object.keys(event).sort()).toEqual(['dedup_key', 'event_action', 'links', 'payload', 'routing_key']);
  expect(event.routing_key).toBe(PEER_ROUTING_KEY);
  expect(event.event_action).toBe('trigger');

  const { payload } = event;
  expect(payload.summary).not.toMatch(/[\r\n]/);
  expect(payload.summary).toContain(`api x Bcc: victim@example.com X-Injected: yes ${TRICKS.mentions}`);
  expect(payload.source).toBe(TRICKS.html);
  const details = payload.custom_details;
  expect(details.Labels.template).toBe(TRICKS.templates);
  expect(details.Labels.slo).toBe(`api ${TRICKS.headers} ${TRICKS.mentions}`);
  expect(details.Labels[TRICKS.mentions]).toBe('label name');
  for (const link of event.links) expect(link.href).toMatch(/^https?:\/\//);
}

/** The hostile alert's text, as the incident core would hold it: in the incident, its tier and its links. */
function hostileIncident(): Incident {
  const labels = {
    alertname: `Burn ${TRICKS.mentions}`,
    instance: MARKER,
    slo: `api ${TRICKS.headers} ${TRICKS.mentions}`,
    service: TRICKS.html,
    team: TRICKS.links,
    template: TRICKS.templates,
    [TRICKS.mentions]: 'label name',
  };
  const tier = warningTier({ alertname: labels.alertname, summary: EVERY_TRICK, description: Object.values(TRICKS).join('\n'), labels });
  return incident({
    id: `inc-${MARKER}`,
    alertname: labels.alertname,
    slo: labels.slo,
    service: labels.service,
    keyLabels: { alertname: labels.alertname, slo: labels.slo, service: labels.service },
    tiers: { [tier.id]: tier },
    links: {
      runbookUrl: 'javascript:alert(1)',
      dashboardUrl: 'http://dashboards.example/"><script>alert(1)</script>',
      generatorUrl: null,
      alertmanagerUrl: 'http://alertmanager.example:9093/',
    },
  });
}

describe('injection through labels and annotations, incident to every channel (first notification, escalation, resolve)', () => {
  let peers: ChannelPeers;
  let notifiers: Map<string, IncidentNotifier>;

  beforeAll(async () => {
    peers = await startChannelPeers();
    ({ notifiers } = buildNotifiers(
      [
        { name: 'hostile-slack', kind: 'slack', slack: { channel: '#hostile' } },
        { name: 'hostile-email', kind: 'email', email: { to: [RECIPIENT] } },
        { name: 'hostile-pagerduty', kind: 'pagerduty', pagerduty: {} },
      ],
      {
        slack: { botToken: PEER_SLACK_TOKEN, apiUrl: peers.slack.url, timeoutMs: 5000 },
        email: { smtpUrl: peers.smtp.url(), from: 'AlertCenter <alerts@maestro.example>', timeoutMs: 5000, connections: 1 },
        pagerduty: { routingKey: PEER_ROUTING_KEY, server: peers.pagerduty.server, timeoutMs: 5000 },
      },
      { logger: createLogger('silent') },
    ));
    const hostile = hostileIncident();
    const [first, escalated, , , , resolved] = escalationStory();
    for (const [name, notifier] of notifiers) {
      const teller = new Teller(notifier, name);
      await teller.tell({ ...first!, incident: hostile });
      await teller.tell({ ...escalated!, incident: { ...hostile, severity: 'critical', peakSeverity: 'critical' } });
      await teller.tell({
        ...resolved!,
        incident: { ...hostile, state: 'resolved', resolvedAt: resolved!.incident.resolvedAt, budgetRemainingAtResolve: 0.9 },
      });
    }
  });

  afterAll(async () => {
    if (notifiers) await closeNotifiers(notifiers.values());
    await peers?.close();
  });

  it('Slack: the message, each update and each thread reply stay inert', () => {
    const [post, ...updates] = peers.slack.received.filter(
      (call) => call.method === 'chat.update' || (call.method === 'chat.postMessage' && call.args.thread_ts === undefined),
    );
    expect(updates).toHaveLength(2);
    for (const call of [post!, ...updates]) expectSlackInert(call);
    const replies = peers.slack.received.filter((call) => call.args.thread_ts !== undefined);
    expect(replies).toHaveLength(2);
    for (const reply of replies) {
      expect(reply.args).toMatchObject({ parse: 'none', link_names: 'false', unfurl_links: 'false' });
      expect(String(reply.args.text)).not.toMatch(/[<>]/);
    }
  });

  it('email: the first mail and each reply stay inert, under one subject on one line', () => {
    expect(peers.smtp.received).toHaveLength(3);
    for (const mail of peers.smtp.received) expectMailInert(mail);
    const subjects = peers.smtp.received.map((mail) => mail.parsed.subject!.replace(/^Re: /, ''));
    expect(new Set(subjects).size).toBe(1);
    expect(subjects[0]).toContain('api x Bcc: victim@example.com X-Injected: yes');
  });

  it('PagerDuty: the triggers carry the text as JSON data; the resolve carries none', () => {
    const [trigger, escalation, resolve] = peers.pagerduty.received.map((request) => request.event);
    for (const event of [trigger, escalation]) {
      expectPagerDutyEventInert(event);
      expect(event.payload.custom_details.Summary).toBe(EVERY_TRICK);
    }
    expect(resolve).toEqual({ routing_key: PEER_ROUTING_KEY, event_action: 'resolve', dedup_key: trigger.dedup_key });
    expect(peers.pagerduty.incidents.get(trigger.dedup_key)?.status).toBe('resolved');
  });
});
