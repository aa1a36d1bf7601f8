import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SlackNotifier } from '../../src/notifiers/legacy/slack/slack.js';
import { SlackThreadStore } from '../../src/notifiers/legacy/slack/thread-store.js';
import { TRUNCATION_MARKER } from '../../src/notifiers/render/text.js';
import { DeliveryError, type DeliveryReceipt } from '../../src/notifiers/types.js';
import { heldAnswers } from '../peers/http-peer.js';
import { startSlackPeer, type SlackPeer } from '../peers/slack-peer.js';
import {
  alertFixture,
  capturedLogger,
  HOSTILE,
  hostileAlert,
  NEVER_ABORTED,
  notificationFixture,
  redisScope,
  resolvedFixture,
} from './helpers.js';

const TOKEN = 'xoxb-test-0000-secret-token';

let peer: SlackPeer;
let scope: ReturnType<typeof redisScope>;
let log: ReturnType<typeof capturedLogger>;
let threads: SlackThreadStore;

function notifier(overrides: { token?: string; timeoutMs?: number; apiUrl?: string } = {}): SlackNotifier {
  return new SlackNotifier({
    receiver: 'team-api',
    channel: '#alerts',
    token: overrides.token ?? TOKEN,
    apiUrl: overrides.apiUrl ?? peer.url,
    timeoutMs: overrides.timeoutMs ?? 2000,
    threads,
    logger: log.logger,
  });
}

async function sendExpectingFailure(send: Promise<DeliveryReceipt>): Promise<DeliveryError> {
  const error = await send.then(
    () => expect.unreachable('the send should have failed'),
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(DeliveryError);
  return error as DeliveryError;
}

interface TextObject {
  type: string;
  text: string;
  verbatim?: boolean;
}

/** Every mrkdwn and plain_text object inside the attachments. */
function textObjects(args: Record<string, unknown>): TextObject[] {
  const found: TextObject[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== 'object') return;
    const object = node as Record<string, unknown>;
    if (object.type === 'mrkdwn' || object.type === 'plain_text') found.push(object as unknown as TextObject);
    Object.values(object).forEach(visit);
  };
  visit(args.attachments);
  return found;
}

function headerOf(args: Record<string, unknown>): { type: string; text: string } {
  const [attachment] = args.attachments as Array<{ blocks: Array<{ type: string; text?: { type: string; text: string } }> }>;
  return attachment!.blocks.find((block) => block.type === 'header')!.text!;
}

beforeEach(async () => {
  peer = await startSlackPeer({ token: TOKEN });
  scope = redisScope('slack');
  log = capturedLogger();
  threads = new SlackThreadStore(scope.redis, scope.keyPrefix);
});

afterEach(async () => {
  await peer.close();
  await scope.cleanup();
});

describe('SlackNotifier, firing and resolved', () => {
  it('posts a Block Kit message with fallback text, severity colour, facts and link buttons', async () => {
    const receipt = await notifier().send(notificationFixture(alertFixture()), NEVER_ABORTED);

    expect(peer.received).toHaveLength(1);
    const [call] = peer.received;
    expect(call!.method).toBe('chat.postMessage');
    expect(call!.authorization).toBe(`Bearer ${TOKEN}`);
    const args = call!.args;
    expect(args).toMatchObject({ channel: '#alerts', link_names: 'false', parse: 'none', unfurl_links: 'false' });
    expect(args.text).toBe(
      '[WARNING] api-latency SLO: 5% of error budget consumed (6.0x burn)\napi-latency is burning its error budget 6x too fast',
    );
    const [attachment] = args.attachments as Array<{ color: string; blocks: Array<Record<string, any>> }>;
    expect(attachment!.color).toBe('#ECB22E');
    expect(headerOf(args)).toEqual({ type: 'plain_text', text: '[WARNING] api-latency SLO: 5% of error budget consumed (6.0x burn)' });
    const fields = attachment!.blocks.find((block) => block.fields)!.fields.map((field: { text: string }) => field.text);
    expect(fields).toEqual([
      '*Service*\nmaestro-api',
      '*Burn rate*\n6.0x',
      '*Budget consumed*\n5%',
      '*Budget exhausted in*\n5d',
      '*Objective*\n99.5% over 30d',
      '*Alert window*\n6h (short 30m)',
      '*Started*\n2026-11-27T10:00:00Z',
    ]);
    const buttons = attachment!.blocks.find((block) => block.type === 'actions')!.elements;
    expect(buttons.map((button: { text: { text: string } }) => button.text.text)).toEqual([
      'Runbook',
      'Dashboard',
      'Prometheus expression',
      'Silence',
    ]);
    expect(buttons[3].url).toBe(
      'http://alertmanager.example:9093/#/silences/new?filter=' +
        encodeURIComponent('{alertname="SLOBurnRate",service="maestro-api",severity="warning",slo="api-latency"}'),
    );

    const [posted] = [...peer.messages.values()];
    expect(receipt).toEqual({ id: posted!.ts, action: 'posted' });
    expect(await threads.get(notificationFixture(alertFixture()))).toEqual({ channel: 'CALERTS', ts: posted!.ts });
    expect(await scope.redis.ttl(threads.key(notificationFixture(alertFixture())))).toBeGreaterThan(29 * 24 * 3600);
  });

  it('on resolve updates the original message in place and replies in its thread', async () => {
    const slack = notifier();
    const firing = await slack.send(notificationFixture(alertFixture()), NEVER_ABORTED);
    const resolved = await slack.send(notificationFixture(resolvedFixture()), NEVER_ABORTED);

    expect(peer.received.map((call) => call.method)).toEqual(['chat.postMessage', 'chat.update', 'chat.postMessage']);
    expect(resolved).toEqual({ id: firing.id, action: 'updated' });
    const original = peer.messages.get(firing.id)!;
    expect(original.updates).toBe(1);
    const update = peer.received[1]!.args;
    expect(update).toMatchObject({ channel: 'CALERTS', ts: firing.id });
    expect(headerOf(update).text).toBe('[RESOLVED] api-latency SLO: 5% of error budget consumed (6.0x burn)');
    expect(JSON.stringify(original.attachments)).toContain('*Fired for*\\n2h 5m');
    expect((original.attachments as Array<{ color: string }>)[0]!.color).toBe('#2EB67D');
    const reply = [...peer.messages.values()].find((message) => message.thread_ts === firing.id);
    expect(reply?.text).toBe(':white_check_mark: Resolved after 2h 5m.');
  });

  it('does not post a retried firing twice, nor update or reply twice for a retried resolve', async () => {
    const slack = notifier();
    const first = await slack.send(notificationFixture(alertFixture()), NEVER_ABORTED);
    const again = await slack.send(notificationFixture(alertFixture()), NEVER_ABORTED);
    await slack.send(notificationFixture(resolvedFixture()), NEVER_ABORTED);
    await slack.send(notificationFixture(resolvedFixture()), NEVER_ABORTED);

    expect(again).toEqual(first);
    expect(peer.received.map((call) => call.method)).toEqual(['chat.postMessage', 'chat.update', 'chat.postMessage']);
  });

  it('keeps firing episodes apart per receiver and per startsAt', async () => {
    const slack = notifier();
    await slack.send(notificationFixture(alertFixture()), NEVER_ABORTED);
    await slack.send(notificationFixture(alertFixture(), 'team-db'), NEVER_ABORTED);
    await slack.send(notificationFixture(alertFixture({ startsAt: '2026-11-28T10:00:00Z' })), NEVER_ABORTED);

    expect(peer.messages.size).toBe(3);
  });

  it('posts a fresh resolved message when the firing one was never sent', async () => {
    const receipt = await notifier().send(notificationFixture(resolvedFixture()), NEVER_ABORTED);

    expect(peer.received.map((call) => call.method)).toEqual(['chat.postMessage']);
    expect(headerOf(peer.received[0]!.args).text).toMatch(/^\[RESOLVED\] api-latency SLO/);
    expect(receipt.action).toBe('posted');
  });
});

describe('SlackNotifier failures', () => {
  it('turns a 429 with Retry-After into rate_limited with retryAfterMs, sending once', async () => {
    peer.setBehavior({ kind: 'rate_limited', retryAfterSeconds: 7 });

    const error = await sendExpectingFailure(notifier().send(notificationFixture(alertFixture()), NEVER_ABORTED));

    expect(error).toMatchObject({ reason: 'rate_limited', retryable: true, retryAfterMs: 7000 });
    expect(peer.received).toHaveLength(1);
  });

  it('makes a 5xx retryable, and the retry then delivers exactly once', async () => {
    peer.setBehavior({ kind: 'http_error', status: 503 }, 1);
    const slack = notifier();

    const error = await sendExpectingFailure(slack.send(notificationFixture(alertFixture()), NEVER_ABORTED));
    expect(error).toMatchObject({ reason: 'server_error', retryable: true });
    expect(error.message).toContain('HTTP 503');
    expect(peer.received).toHaveLength(1);

    await slack.send(notificationFixture(alertFixture()), NEVER_ABORTED);
    expect(peer.messages.size).toBe(1);
  });

  it('makes a hung request a retryable timeout', async () => {
    peer.setBehavior({ kind: 'hang' });

    const error = await sendExpectingFailure(
      notifier({ timeoutMs: 200 }).send(notificationFixture(alertFixture()), NEVER_ABORTED),
    );

    expect(error).toMatchObject({ reason: 'timeout', retryable: true });
    expect(error.message).toContain('no answer within 200 ms');
  });

  it("stops when the caller's signal aborts", async () => {
    peer.setBehavior({ kind: 'hang' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);

    const error = await sendExpectingFailure(notifier({ timeoutMs: 10_000 }).send(notificationFixture(alertFixture()), controller.signal));

    expect(error).toMatchObject({ reason: 'timeout', retryable: true });
    expect(error.message).toContain('cancelled by the caller');
  });

  it('makes a refused connection a retryable network failure', async () => {
    await peer.close();

    const error = await sendExpectingFailure(notifier().send(notificationFixture(alertFixture()), NEVER_ABORTED));

    expect(error).toMatchObject({ reason: 'network', retryable: true });
    expect(error.message).toContain('ECONNREFUSED');
  });

  it.each([
    ['invalid_auth', 'auth'],
    ['not_authed', 'auth'],
    ['account_inactive', 'auth'],
    ['channel_not_found', 'not_found'],
    ['not_in_channel', 'not_found'],
    ['is_archived', 'not_found'],
    ['invalid_blocks', 'bad_request'],
    ['msg_too_long', 'bad_request'],
  ])('makes Slack error %s permanent with reason %s', async (slackError, reason) => {
    peer.setBehavior({ kind: 'slack_error', error: slackError });

    const error = await sendExpectingFailure(notifier().send(notificationFixture(alertFixture()), NEVER_ABORTED));

    expect(error).toMatchObject({ reason, retryable: false });
    expect(error.message).toBe(`slack receiver "team-api": Slack API error ${slackError}`);
  });

  it('makes Slack internal_error retryable', async () => {
    peer.setBehavior({ kind: 'slack_error', error: 'internal_error' });

    const error = await sendExpectingFailure(notifier().send(notificationFixture(alertFixture()), NEVER_ABORTED));

    expect(error).toMatchObject({ reason: 'server_error', retryable: true });
  });

  it('never shows the token in an error or a log line', async () => {
    const wrongToken = 'xoxb-wrong-9999-secret-token';
    const failures = [
      await sendExpectingFailure(notifier({ token: wrongToken }).send(notificationFixture(alertFixture()), NEVER_ABORTED)),
      await sendExpectingFailure(
        notifier({ token: wrongToken, apiUrl: 'http://127.0.0.1:1/api/' }).send(notificationFixture(alertFixture()), NEVER_ABORTED),
      ),
    ];
    await notifier().send(notificationFixture(alertFixture()), NEVER_ABORTED);

    expect(failures[0]).toMatchObject({ reason: 'auth', retryable: false });
    expect(log.lines.length).toBeGreaterThan(0); // the Slack client logs its requests at debug
    for (const text of [...failures.map((failure) => `${failure.message} ${failure.stack}`), ...log.lines]) {
      expect(text).not.toContain(wrongToken);
      expect(text).not.toContain(TOKEN);
    }
  });
});

describe('SlackNotifier, concurrent sends', () => {
  it("fails only the send whose caller's signal aborts, with 150 sends in flight at once on the notifier's one client", async () => {
    // By default a Slack client queues requests beyond 100 in flight: a send would wait there while its deadline runs.
    const count = 150;
    const { held, release } = heldAnswers();
    peer.setBehavior(held);
    const slack = notifier({ timeoutMs: 10_000 });
    const controllers = Array.from({ length: count }, () => new AbortController());

    const sends = controllers.map((controller, n) =>
      slack.send(notificationFixture(alertFixture({ fingerprint: `concurrent-${n}` })), controller.signal),
    );
    const settled = Promise.allSettled(sends);
    await vi.waitFor(() => expect(peer.received).toHaveLength(count), { timeout: 10_000 });
    controllers[0]!.abort();
    await sends[0]!.catch(() => {});
    release();
    const [aborted, ...others] = await settled;

    expect(aborted).toMatchObject({
      status: 'rejected',
      reason: { reason: 'timeout', message: expect.stringContaining('cancelled by the caller') },
    });
    expect(others.filter((result) => result.status === 'rejected')).toEqual([]);
    expect(peer.received).toHaveLength(count);
  });
});

describe('SlackNotifier and untrusted text', () => {
  it('renders mentions, links, scripts and templates inert', async () => {
    await notifier().send(notificationFixture(hostileAlert()), NEVER_ABORTED);

    const args = peer.received[0]!.args;
    const mrkdwn = textObjects(args).filter((object) => object.type === 'mrkdwn');
    // Slack parses mrkdwn: the fallback text and the mrkdwn objects carry no raw < or >.
    const parsed = [String(args.text), ...mrkdwn.map((object) => object.text)];
    for (const text of parsed) expect(text).not.toMatch(/[<>]/);
    expect(parsed.join('\n')).toContain('&lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt;');
    expect(parsed.join('\n')).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(parsed.join('\n')).toContain(`${HOSTILE.markdownLink} ${HOSTILE.template}`);
    // verbatim: Slack does not turn bare URLs, channel names or @here into links or mentions.
    expect(mrkdwn.length).toBeGreaterThan(5);
    for (const object of mrkdwn) expect(object.verbatim).toBe(true);
    // Raw text only in plain_text, which Slack never parses for mentions; the header stays on one line.
    expect(headerOf(args).text).toBe(
      `[WARNING] api-latency ${HOSTILE.mentions} x Bcc: victim@evil.example SLO: 5% of error budget consumed (6.0x burn)`,
    );
  });

  it('cuts every field to its Block Kit limit with a marker', async () => {
    const long = '<'.repeat(5000);
    await notifier().send(
      notificationFixture(alertFixture({ slo: 's'.repeat(500), summary: long, description: long, service: long })),
      NEVER_ABORTED,
    );

    const args = peer.received[0]!.args;
    const header = headerOf(args).text;
    expect(header).toHaveLength(150);
    expect(header.endsWith(TRUNCATION_MARKER)).toBe(true);
    const [attachment] = args.attachments as Array<{ blocks: Array<Record<string, any>> }>;
    const sections = attachment!.blocks.filter((block) => block.type === 'section' && block.text);
    expect(sections).toHaveLength(2);
    for (const section of sections) {
      expect(section.text.text.length).toBeLessThanOrEqual(3000);
      expect(section.text.text).toMatch(/^(&lt;)+…\[truncated\]$/);
    }
    const service = attachment!.blocks.find((block) => block.fields)!.fields[0].text as string;
    expect(service.length).toBeLessThanOrEqual(2000);
    expect(service.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(String(args.text).length).toBeLessThanOrEqual(3000);
  });
});
