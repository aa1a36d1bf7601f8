import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TRUNCATION_MARKER } from '../../src/notifiers/render/text.js';
import { SlackNotifier, type SlackNotifierOptions } from '../../src/notifiers/slack/slack.js';
import { DeliveryError, type SyncResult } from '../../src/notifiers/types.js';
import { heldAnswers } from '../peers/http-peer.js';
import { type SlackCall, type SlackPeer, startSlackPeer } from '../peers/slack-peer.js';
import { capturedLogger, HOSTILE, NEVER_ABORTED } from './helpers.js';
import { at, escalationStory, hostileIncident, incident, type Step, T0, Teller, warningTier } from './incidents.js';

const TOKEN = 'xoxb-test-0000-secret-token';
const CHANNEL_ID = 'CALERTS';

let peer: SlackPeer;
let log: ReturnType<typeof capturedLogger>;
/** The peer's clock: messages are stamped with the story's time, as Slack would stamp them. */
let peerNow = T0;

function notifier(overrides: Partial<SlackNotifierOptions> = {}): SlackNotifier {
  return new SlackNotifier({
    receiver: 'team-api',
    channel: '#alerts',
    token: TOKEN,
    apiUrl: peer.url,
    timeoutMs: 2000,
    logger: log.logger,
    ...overrides,
  });
}

const story = escalationStory();
const step = (name: string): Step => story.find((s) => s.name === name)!;
const first = step('first');

async function notifyExpectingFailure(notify: Promise<SyncResult>): Promise<DeliveryError> {
  const error = await notify.then(
    () => expect.unreachable('the notification should have failed'),
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(DeliveryError);
  return error as DeliveryError;
}

function headerOf(args: Record<string, unknown>): string {
  const [attachment] = args.attachments as Array<{ blocks: Array<{ type: string; text?: { type: string; text: string } }> }>;
  return attachment!.blocks.find((block) => block.type === 'header')!.text!.text;
}

function fieldsOf(args: Record<string, unknown>): string[] {
  const [attachment] = args.attachments as Array<{ blocks: Array<Record<string, any>> }>;
  return attachment!.blocks.filter((block) => block.fields).flatMap((block) => block.fields.map((field: { text: string }) => field.text));
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

const methods = () => peer.received.map((call) => call.method);
const calls = (method: string): SlackCall[] => peer.received.filter((call) => call.method === method);

beforeEach(async () => {
  peerNow = T0;
  peer = await startSlackPeer({ token: TOKEN, channels: ['#alerts', '#other'], clock: () => peerNow });
  log = capturedLogger();
});

afterEach(async () => {
  await peer.close();
});

/** Plays the story's steps in order, the peer's clock at each step's time. */
async function play(teller: Teller, steps: Step[]): Promise<Array<SyncResult | null>> {
  const results = [];
  for (const s of steps) {
    peerNow = s.now;
    results.push(await teller.tell(s));
  }
  return results;
}

describe('SlackNotifier, one message per incident', () => {
  it('posts one message, updates it in place on every change, and replies in its thread for each escalation, de-escalation, reminder and the resolve', async () => {
    const slack = notifier();
    const teller = new Teller(slack, 'team-api');

    const results = await play(teller, story);

    expect(results.map((result) => result?.action)).toEqual(['posted', 'replied', 'replied', 'updated', 'replied', 'replied']);
    expect(methods()).toEqual([
      'chat.postMessage',
      'chat.update',
      'chat.postMessage',
      'chat.update',
      'chat.postMessage',
      'chat.update',
      'chat.update',
      'chat.postMessage',
      'chat.update',
      'chat.postMessage',
    ]);
    const top = [...peer.messages.values()].filter((message) => message.thread_ts === undefined);
    expect(top).toHaveLength(1);
    const message = top[0]!;
    expect(message.updates).toBe(5);
    for (const result of results) expect(result?.receipt).toEqual({ slack: { channel: CHANNEL_ID, ts: message.ts } });

    // The message: the first post, then every update, each showing the incident as it stood.
    const versions = [calls('chat.postMessage')[0]!, ...calls('chat.update')].map((call) => call.args);
    expect(versions.map(headerOf)).toEqual([
      '[WARNING] api-latency SLO: burning 7.2x now, budget exhausted in 4d 1h',
      '[CRITICAL] api-latency SLO: burning 94.0x now, budget exhausted in 7h 16m',
      '[WARNING] api-latency SLO: burning 7.2x now, budget exhausted in 4d 1h',
      '[WARNING] api-latency SLO: burning 8.5x now, budget exhausted in 3d 6h',
      '[WARNING] api-latency SLO: burning 8.5x now, budget exhausted in 3d 6h',
      '[RESOLVED] api-latency SLO: burned for 4h 30m, peak 94.0x, 6% of the budget consumed',
    ]);
    expect(versions.map((args) => (args.attachments as Array<{ color: string }>)[0]!.color)).toEqual([
      '#ECB22E',
      '#E01E5A',
      '#ECB22E',
      '#ECB22E',
      '#ECB22E',
      '#2EB67D',
    ]);
    for (const args of calls('chat.update').map((call) => call.args)) expect(args).toMatchObject({ channel: CHANNEL_ID, ts: message.ts });
    expect(fieldsOf(versions[0]!)).toEqual([
      '*Severity*\nWARNING',
      '*Burn now*\n7.2x over 30m',
      '*Burn, long window*\n6.9x over 6h',
      '*Budget remaining*\n97% of 30d',
      '*Budget exhausted in*\n4d 1h at the burn now',
      '*Objective*\n99.5% over 30d',
      '*Service*\nmaestro-api',
      '*Tiers firing*\nwarning 6h',
      '*Opened*\n10:00 UTC (1 min ago)',
    ]);
    expect(fieldsOf(versions[5]!)).toContain('*Budget consumed*\n6% (97% → 91% left)');
    expect(message.metadata).toEqual({
      event_type: 'alertcenter_incident',
      event_payload: { incident_id: 'inc-api-latency-7f3a9c', receiver: 'team-api', state: 'resolved', severity: 'warning' },
    });

    // The thread keeps the figures of each moment, though the message shows only the latest.
    const replies = [...peer.messages.values()].filter((reply) => reply.thread_ts === message.ts).map((reply) => reply.text);
    expect(replies).toEqual([
      ':rotating_light: Escalated from WARNING to CRITICAL at 10:41 UTC. Burn 94.0x now (5m), 20.1x over 1h; 95% of the 30d budget left, exhausted in 7h 16m at the burn now.',
      ':arrow_down: De-escalated from CRITICAL to WARNING at 11:11 UTC: the critical tiers cleared. Burn 7.2x now (30m), 6.9x over 6h; 97% of the 30d budget left, exhausted in 4d 1h at the burn now.',
      ':bell: Still firing at WARNING, opened 10:00 UTC (4h 1m ago). Burn 8.5x now (30m), 7.4x over 6h; 93% of the 30d budget left, exhausted in 3d 6h at the burn now.',
      ':white_check_mark: Resolved: api-latency SLO burned its 30d error budget from 10:00 UTC to 14:30 UTC (4h 30m); its burn peaked at 94.0x; it consumed 6% of the budget (97% left when it opened, 91% when it resolved). Last figures while it fired: Burn 6.1x now (30m), 6.2x over 6h; 91% of the 30d budget left, exhausted in 4d 11h at the burn now.',
    ]);
    for (const reply of calls('chat.postMessage').slice(1)) {
      expect(reply.args).toMatchObject({ channel: CHANNEL_ID, thread_ts: message.ts, link_names: 'false', parse: 'none', unfurl_links: 'false' });
    }
    expect(calls('conversations.history')).toHaveLength(0);
  });

  it('asks to hear of every change, and to update one message at most every few seconds (configurable)', () => {
    expect([...notifier().interests].sort()).toEqual([
      'acknowledged',
      'de_escalated',
      'escalated',
      'figures_changed',
      'first_notification',
      'reminder_due',
      'resolved',
      'status_changed',
      'unacknowledged',
    ]);
    expect(notifier().minUpdateIntervalMs).toBe(3000);
    expect(notifier({ minUpdateIntervalMs: 10_000 }).minUpdateIntervalMs).toBe(10_000);
  });

  it('keeps the incidents of two receivers in one channel apart', async () => {
    await new Teller(notifier(), 'team-api').tell(first);
    await new Teller(notifier({ receiver: 'team-db' }), 'team-db').tell(first);

    expect(peer.messages.size).toBe(2);
  });

  it('posts the message again when it was deleted in Slack, rather than leave the incident untold', async () => {
    const teller = new Teller(notifier(), 'team-api');
    await teller.tell(first);
    peer.messages.clear();

    const result = await teller.tell(step('escalated'));

    expect(methods()).toEqual(['chat.postMessage', 'chat.update', 'chat.postMessage']);
    expect(result?.action).toBe('posted');
    expect(peer.messages.size).toBe(1);
    expect(headerOf(peer.received[2]!.args)).toMatch(/^\[CRITICAL\]/);
  });
});

describe('SlackNotifier after a crash or a timeout: no second message', () => {
  /** The post reached Slack, then the process died before the notification log took the receipt. */
  async function postedThenReceiptLost(slack: SlackNotifier): Promise<string> {
    await slack.notify(new Teller(slack, 'team-api').context(first), NEVER_ABORTED);
    expect(peer.messages.size).toBe(1);
    return [...peer.messages.keys()][0]!;
  }

  it('finds the message an uncertain attempt posted (conversations.history, its metadata) and updates it instead of posting', async () => {
    const ts = await postedThenReceiptLost(notifier());
    peerNow = at(2);

    // A new process: nothing in memory, the receipt lost; the sync knows an attempt started.
    const restarted = notifier({ channel: CHANNEL_ID });
    const result = await restarted.notify(new Teller(restarted, 'team-api').context({ ...first, now: at(2) }, true), NEVER_ABORTED);

    expect(methods()).toEqual(['chat.postMessage', 'conversations.history', 'chat.update']);
    expect(result).toEqual({ action: 'updated', receipt: { slack: { channel: CHANNEL_ID, ts } } });
    expect(peer.messages.size).toBe(1);
    expect(peer.messages.get(ts)!.updates).toBe(1);
    const history = calls('conversations.history')[0]!.args;
    expect(history).toMatchObject({ channel: CHANNEL_ID, include_all_metadata: 'true', inclusive: 'true', limit: '200' });
    // Over the incident's lifetime: from its opening (less a margin for clocks that disagree).
    expect(Number(history.oldest)).toBe((T0 - 5 * 60_000) / 1000);
  });

  it('posts when the earlier attempt never reached Slack', async () => {
    const slack = notifier({ channel: CHANNEL_ID });

    const result = await slack.notify(new Teller(slack, 'team-api').context(first, true), NEVER_ABORTED);

    expect(methods()).toEqual(['conversations.history', 'chat.postMessage']);
    expect(result.action).toBe('posted');
  });

  it('does not look when the attempt is not uncertain (a first notification that never started)', async () => {
    const slack = notifier({ channel: CHANNEL_ID });
    await slack.notify(new Teller(slack, 'team-api').context(first, false), NEVER_ABORTED);

    expect(methods()).toEqual(['chat.postMessage']);
  });

  it("pages through a busy channel's history, newest first, and matches the incident and the receiver, nothing else", async () => {
    const ts = await postedThenReceiptLost(notifier());
    // Afterwards: the same incident's message for another receiver, another incident's, and chatter.
    peerNow = at(1);
    await new Teller(notifier({ receiver: 'team-db' }), 'team-db').tell(first);
    const other = incident({ id: 'inc-other' });
    await new Teller(notifier(), 'team-api').tell({ ...first, incident: other });
    const chatter = notifier({ receiver: 'chatter' });
    for (let n = 0; n < 12; n += 1)
      await chatter.notify(new Teller(chatter, 'chatter').context({ ...first, incident: incident({ id: `inc-chatter-${n}` }) }), NEVER_ABORTED);
    peer.received.length = 0;

    const restarted = notifier({ channel: CHANNEL_ID, lookup: { pageSize: 5 } });
    const result = await restarted.notify(new Teller(restarted, 'team-api').context({ ...first, now: at(2) }, true), NEVER_ABORTED);

    expect(result.receipt).toEqual({ slack: { channel: CHANNEL_ID, ts } });
    const pages = calls('conversations.history');
    // 14 newer messages ahead of it, 5 a page: it is the last of the third page.
    expect(pages).toHaveLength(3);
    expect(pages[0]!.args.cursor).toBeUndefined();
    for (const page of pages.slice(1)) expect(typeof page.args.cursor).toBe('string');
    expect(methods().filter((method) => method === 'chat.postMessage')).toEqual([]);
  });

  it('gives up after the bounded number of pages, and says so', async () => {
    await postedThenReceiptLost(notifier());
    const chatter = notifier({ receiver: 'chatter' });
    for (let n = 0; n < 6; n += 1)
      await chatter.notify(new Teller(chatter, 'chatter').context({ ...first, incident: incident({ id: `inc-chatter-${n}` }) }), NEVER_ABORTED);
    peer.received.length = 0;

    const restarted = notifier({ channel: CHANNEL_ID, lookup: { pageSize: 2, maxPages: 3 } });
    const result = await restarted.notify(new Teller(restarted, 'team-api').context(first, true), NEVER_ABORTED);

    expect(calls('conversations.history')).toHaveLength(3);
    expect(result.action).toBe('posted');
    expect(log.lines.some((line) => line.includes('no earlier message within the bounded history search'))).toBe(true);
  });

  it('looks a channel named in routes.yaml up by name (conversations.list) once, and uses the id Slack answered after a post', async () => {
    await postedThenReceiptLost(notifier());
    peer.received.length = 0;

    const restarted = notifier();
    const found = await restarted.notify(new Teller(restarted, 'team-api').context(first, true), NEVER_ABORTED);
    expect(methods()).toEqual(['conversations.list', 'conversations.history', 'chat.update']);
    expect(calls('conversations.list')[0]!.args).toMatchObject({ types: 'public_channel,private_channel', exclude_archived: 'true' });
    expect(found.action).toBe('updated');

    peer.received.length = 0;
    await restarted.notify(new Teller(restarted, 'team-api').context({ ...first, incident: incident({ id: 'inc-2' }) }, true), NEVER_ABORTED);
    expect(methods()).toEqual(['conversations.history', 'chat.postMessage']);
  });

  it('posts (and warns) when the token may not read the channel: a possible second message rather than none', async () => {
    const slack = notifier({ channel: CHANNEL_ID });
    peer.setBehavior({ kind: 'slack_error', error: 'missing_scope' }, 1);

    const result = await slack.notify(new Teller(slack, 'team-api').context(first, true), NEVER_ABORTED);

    expect(methods()).toEqual(['conversations.history', 'chat.postMessage']);
    expect(result.action).toBe('posted');
    expect(log.lines.some((line) => line.includes('cannot read the channel'))).toBe(true);
  });

  it('does not reply twice in the thread when an uncertain escalation had replied already (conversations.replies, its metadata)', async () => {
    const slack = notifier();
    const teller = new Teller(slack, 'team-api');
    await teller.tell(first);
    const escalation = teller.context(step('escalated'));
    // The escalation went out (update and reply), then the process died before the log took it.
    await slack.notify(escalation, NEVER_ABORTED);
    peer.received.length = 0;

    const retried = await slack.notify({ ...escalation, uncertain: true }, NEVER_ABORTED);

    expect(methods()).toEqual(['chat.update', 'conversations.replies']);
    expect(retried.action).toBe('replied');
    expect([...peer.messages.values()].filter((message) => message.thread_ts !== undefined)).toHaveLength(1);
    expect(calls('conversations.replies')[0]!.args).toMatchObject({ channel: CHANNEL_ID, include_all_metadata: 'true' });
  });

  it('replies when the uncertain attempt had not, and tells a reminder apart from an earlier one by its number', async () => {
    const slack = notifier();
    const teller = new Teller(slack, 'team-api');
    for (const name of ['first', 'escalated', 'de_escalated', 'figures_changed', 'reminder']) await teller.tell(step(name));
    peer.received.length = 0;

    // A second reminder, its first attempt lost before it replied: the first reminder's reply does not count.
    const again = { ...step('reminder'), now: at(481) };
    await slack.notify({ ...teller.context(again), uncertain: true }, NEVER_ABORTED);

    expect(methods()).toEqual(['chat.update', 'conversations.replies', 'chat.postMessage']);
    const reminders = [...peer.messages.values()].filter((message) => message.text?.startsWith(':bell:'));
    expect(reminders).toHaveLength(2);
  });

  it('retries the lookup, posting nothing, when Slack is in trouble', async () => {
    const slack = notifier({ channel: CHANNEL_ID });
    peer.setBehavior({ kind: 'http_error', status: 503 }, 1);

    const error = await notifyExpectingFailure(slack.notify(new Teller(slack, 'team-api').context(first, true), NEVER_ABORTED));

    expect(error).toMatchObject({ reason: 'server_error', retryable: true });
    expect(methods()).toEqual(['conversations.history']);
  });
});

describe('SlackNotifier failures', () => {
  it('turns a 429 with Retry-After into rate_limited with retryAfterMs, sending once', async () => {
    peer.setBehavior({ kind: 'rate_limited', retryAfterSeconds: 7 });

    const error = await notifyExpectingFailure(new Teller(notifier(), 'team-api').tell(first) as Promise<SyncResult>);

    expect(error).toMatchObject({ reason: 'rate_limited', retryable: true, retryAfterMs: 7000 });
    expect(peer.received).toHaveLength(1);
  });

  it('makes a 5xx retryable, and the retry then delivers exactly once', async () => {
    peer.setBehavior({ kind: 'http_error', status: 503 }, 1);
    const teller = new Teller(notifier(), 'team-api');

    const error = await notifyExpectingFailure(teller.tell(first) as Promise<SyncResult>);
    expect(error).toMatchObject({ reason: 'server_error', retryable: true });
    expect(error.message).toContain('HTTP 503');
    expect(peer.received).toHaveLength(1);

    await teller.tell(first);
    expect(peer.messages.size).toBe(1);
  });

  it('makes a hung request a retryable timeout', async () => {
    peer.setBehavior({ kind: 'hang' });

    const error = await notifyExpectingFailure(new Teller(notifier({ timeoutMs: 200 }), 'team-api').tell(first) as Promise<SyncResult>);

    expect(error).toMatchObject({ reason: 'timeout', retryable: true });
    expect(error.message).toContain('no answer within 200 ms');
  });

  it("stops when the caller's signal aborts", async () => {
    peer.setBehavior({ kind: 'hang' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);

    const error = await notifyExpectingFailure(
      new Teller(notifier({ timeoutMs: 10_000 }), 'team-api').tell(first, { signal: controller.signal }) as Promise<SyncResult>,
    );

    expect(error).toMatchObject({ reason: 'timeout', retryable: true });
    expect(error.message).toContain('cancelled by the caller');
  });

  it('makes a refused connection a retryable network failure', async () => {
    await peer.close();

    const error = await notifyExpectingFailure(new Teller(notifier(), 'team-api').tell(first) as Promise<SyncResult>);

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

    const error = await notifyExpectingFailure(new Teller(notifier(), 'team-api').tell(first) as Promise<SyncResult>);

    expect(error).toMatchObject({ reason, retryable: false });
    expect(error.message).toBe(`slack receiver "team-api": Slack API error ${slackError}`);
  });

  it('makes Slack internal_error retryable', async () => {
    peer.setBehavior({ kind: 'slack_error', error: 'internal_error' });

    const error = await notifyExpectingFailure(new Teller(notifier(), 'team-api').tell(first) as Promise<SyncResult>);

    expect(error).toMatchObject({ reason: 'server_error', retryable: true });
  });

  it('fails an update that Slack rate-limits as rate_limited, leaving the receipt as it was', async () => {
    const teller = new Teller(notifier(), 'team-api');
    await teller.tell(first);
    peer.setBehavior({ kind: 'rate_limited', retryAfterSeconds: 3 }, 1);

    const error = await notifyExpectingFailure(teller.tell(step('figures_changed')) as Promise<SyncResult>);

    expect(error).toMatchObject({ reason: 'rate_limited', retryAfterMs: 3000 });
    expect(teller.told?.sent).toBe(1);
  });

  it('never shows the token in an error or a log line', async () => {
    const wrongToken = 'xoxb-wrong-9999-secret-token';
    const failures = [
      await notifyExpectingFailure(new Teller(notifier({ token: wrongToken }), 'team-api').tell(first) as Promise<SyncResult>),
      await notifyExpectingFailure(
        new Teller(notifier({ token: wrongToken, apiUrl: 'http://127.0.0.1:1/api/' }), 'team-api').tell(first) as Promise<SyncResult>,
      ),
    ];
    await new Teller(notifier(), 'team-api').tell(first);

    expect(failures[0]).toMatchObject({ reason: 'auth', retryable: false });
    expect(log.lines.length).toBeGreaterThan(0); // the Slack client logs its requests at debug
    for (const text of [...failures.map((failure) => `${failure.message} ${failure.stack}`), ...log.lines]) {
      expect(text).not.toContain(wrongToken);
      expect(text).not.toContain(TOKEN);
    }
  });
});

describe('SlackNotifier, concurrent notifications', () => {
  it("fails only the one whose caller's signal aborts, with 150 in flight at once on the notifier's one client", async () => {
    // By default a Slack client queues requests beyond 100 in flight: a send would wait there while its deadline runs.
    const count = 150;
    const { held, release } = heldAnswers();
    peer.setBehavior(held);
    const slack = notifier({ timeoutMs: 10_000 });
    const controllers = Array.from({ length: count }, () => new AbortController());

    const sends = controllers.map((controller, n) =>
      new Teller(slack, 'team-api').tell({ ...first, incident: incident({ id: `inc-concurrent-${n}` }) }, { signal: controller.signal }),
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
  const all = Object.values(HOSTILE).join(' ');
  const hostile = () =>
    hostileIncident({
      slo: `api-latency ${HOSTILE.mentions} ${HOSTILE.headerBreak}`,
      summary: all,
      description: all,
      labels: { alertname: 'MaestroSLOBurnRate', team: all, note: HOSTILE.headerBreak },
    });

  it('renders mentions, links, scripts and templates inert in the message and in its thread replies', async () => {
    const teller = new Teller(notifier(), 'team-api');
    await teller.tell({ ...first, incident: hostile() });
    const resolved = { ...hostile(), state: 'resolved' as const, resolvedAt: new Date(at(30)).toISOString(), budgetRemainingAtResolve: 0.9 };
    await teller.tell({ ...first, decision: 'resolved', incident: resolved, now: at(31) });

    const args = peer.received[0]!.args;
    const mrkdwn = textObjects(args).filter((object) => object.type === 'mrkdwn');
    // Slack parses mrkdwn: the fallback text, the mrkdwn objects and the replies carry no raw < or >.
    const reply = peer.received.find((call) => call.args.thread_ts !== undefined)!.args;
    const parsed = [String(args.text), ...mrkdwn.map((object) => object.text), String(reply.text)];
    for (const text of parsed) expect(text).not.toMatch(/[<>]/);
    expect(parsed.join('\n')).toContain('&lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt;');
    expect(parsed.join('\n')).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(parsed.join('\n')).toContain(`${HOSTILE.markdownLink} ${HOSTILE.template}`);
    expect(String(reply.text)).toContain('api-latency &lt;!channel&gt;');
    // verbatim: Slack does not turn bare URLs, channel names or @here into links or mentions.
    expect(mrkdwn.length).toBeGreaterThan(5);
    for (const object of mrkdwn) expect(object.verbatim).toBe(true);
    // Raw text only in plain_text, which Slack never parses for mentions; the header stays on one line.
    expect(headerOf(args)).toBe(`[WARNING] api-latency ${HOSTILE.mentions} x Bcc: victim@evil.example SLO: burning 7.2x now, budget exhausted in 4d 1h`);
  });

  it('cuts every field to its Block Kit limit with a marker', async () => {
    const long = '<'.repeat(5000);
    const tier = warningTier({ summary: long, description: long });
    await new Teller(notifier(), 'team-api').tell({ ...first, incident: incident({ slo: 's'.repeat(500), service: long, tiers: { [tier.id]: tier } }) });

    const args = peer.received[0]!.args;
    const header = headerOf(args);
    expect(header).toHaveLength(150);
    expect(header.endsWith(TRUNCATION_MARKER)).toBe(true);
    const [attachment] = args.attachments as Array<{ blocks: Array<Record<string, any>> }>;
    const sections = attachment!.blocks.filter((block) => block.type === 'section' && block.text);
    // The headline, the summary and the description.
    expect(sections).toHaveLength(3);
    for (const section of sections) expect(section.text.text.length).toBeLessThanOrEqual(3000);
    for (const section of sections.slice(1)) expect(section.text.text).toMatch(/^(&lt;)+…\[truncated\]$/);
    const service = fieldsOf(args).find((field) => field.startsWith('*Service*'))!;
    expect(service.length).toBeLessThanOrEqual(2000);
    expect(service.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(String(args.text).length).toBeLessThanOrEqual(3000);
    for (const block of attachment!.blocks.filter((b) => b.fields)) expect(block.fields.length).toBeLessThanOrEqual(10);
  });
});
