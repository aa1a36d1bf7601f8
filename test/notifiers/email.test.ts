import { afterEach, describe, expect, it } from 'vitest';
import { EmailNotifier, type EmailNotifierOptions } from '../../src/notifiers/email/email.js';
import { composeIncidentMail } from '../../src/notifiers/email/message.js';
import { mimeMessage } from '../../src/notifiers/email/mime.js';
import { TRUNCATION_MARKER } from '../../src/notifiers/render/text.js';
import { DeliveryError, type SyncResult } from '../../src/notifiers/types.js';
import { type SmtpPeer, type SmtpPeerOptions, startSmtpPeer } from '../peers/smtp-peer.js';
import { TEST_TLS, UNRELATED_CA } from '../peers/tls.js';
import { eventually } from '../support/router.js';
import { HOSTILE, NEVER_ABORTED } from './helpers.js';
import { contextOf, escalationStory, hostileIncident, incident, type Step, Teller, warningTier } from './incidents.js';

const LOGIN = { user: 'alertcenter', pass: 'smtp-secret-p@ss:word' };
const FROM = 'Maestro AlertCenter <alerts@maestro.example>';
const TO = ['oncall-api@maestro.example'];

const opened: Array<{ close(): Promise<void> }> = [];

async function peer(options: SmtpPeerOptions = { users: { [LOGIN.user]: LOGIN.pass }, tls: 'starttls' }): Promise<SmtpPeer> {
  const started = await startSmtpPeer(options);
  opened.push(started);
  return started;
}

function notifier(smtpUrl: string, overrides: Partial<EmailNotifierOptions> = {}): EmailNotifier {
  const email = new EmailNotifier({ receiver: 'team-api', to: TO, from: FROM, smtpUrl, timeoutMs: 2000, connections: 2, ca: TEST_TLS.cert, ...overrides });
  opened.unshift(email); // closed before the peers
  return email;
}

const story = escalationStory();
const first = story[0]!;

/** The first notification of the story's incident, or of another incident with this id. */
function firstOf(id?: string, overrides: Parameters<typeof incident>[0] = {}): Step {
  return { ...first, incident: incident({ ...(id === undefined ? {} : { id }), ...overrides }) };
}

/** Tells `step` as the first notification of a fresh (incident, receiver). */
function tellFirst(email: EmailNotifier, step: Step = first, receiver = 'team-api'): Promise<SyncResult> {
  return new Teller(email, receiver).tell(step) as Promise<SyncResult>;
}

async function sendExpectingFailure(send: Promise<SyncResult>): Promise<DeliveryError> {
  const error = await send.then(
    () => expect.unreachable('the send should have failed'),
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(DeliveryError);
  return error as DeliveryError;
}

afterEach(async () => {
  for (const resource of opened.splice(0)) await resource.close();
});

describe('EmailNotifier, one thread per incident', () => {
  it('mails the first notification over STARTTLS: subject, what is happening, the figures, links, a derived Message-ID', async () => {
    const smtp = await peer();

    const result = await tellFirst(notifier(smtp.url(LOGIN)));

    expect(smtp.received).toHaveLength(1);
    const [mail] = smtp.received;
    expect(mail!.secure).toBe(true);
    expect(mail!.user).toBe(LOGIN.user);
    expect(mail!.envelope).toEqual({ from: 'alerts@maestro.example', to: TO });
    const { parsed } = mail!;
    expect(parsed.subject).toBe('api-latency SLO on maestro-api: incident opened 27 Nov 2026 10:00 UTC');
    expect(parsed.messageId).toMatch(/^<alertcenter\.[0-9a-f]{32}\.1@maestro\.example>$/);
    expect(result).toEqual({ action: 'sent', receipt: { email: { threadId: parsed.messageId, lastMessageId: parsed.messageId } } });
    expect(parsed.inReplyTo).toBeUndefined();
    expect(parsed.text).toMatch(/^New incident, WARNING\.\n\[WARNING\] api-latency SLO: burning 7\.2x now, budget exhausted in 4d 1h\n/);
    expect(parsed.text).toContain(
      'Severity: WARNING\nBurn now: 7.2x over 30m\nBurn, long window: 6.9x over 6h\nBudget remaining: 97% of 30d\nBudget exhausted in: 4d 1h at the burn now\nObjective: 99.5% over 30d',
    );
    expect(parsed.text).toContain('Opened: 10:00 UTC (1 min ago)');
    expect(parsed.text).toContain('Runbook: https://runbooks.maestro.example/slo-api-latency');
    expect(parsed.html).toContain('<h2 style="color:#ECB22E">[WARNING] api-latency SLO: burning 7.2x now, budget exhausted in 4d 1h</h2>');
    expect(parsed.html).toContain('<a href="https://grafana.maestro.example/d/maestro-slo?var-slo=api-latency">Dashboard</a>');
    expect(parsed.html).toContain('>Silence</a>');
  });

  it('replies in the thread on escalation, de-escalation, reminder and resolve, under one subject; nothing for a figures change', async () => {
    const smtp = await peer();
    const email = notifier(smtp.url(LOGIN));
    const teller = new Teller(email, 'team-api');

    const results = [];
    for (const step of story) results.push(await teller.tell(step));

    expect(results.map((result) => result?.action ?? 'none')).toEqual(['sent', 'sent', 'sent', 'none', 'sent', 'sent']);
    const mails = smtp.received.map((mail) => mail.parsed);
    expect(mails).toHaveLength(5);
    const subject = 'api-latency SLO on maestro-api: incident opened 27 Nov 2026 10:00 UTC';
    expect(mails.map((mail) => mail.subject)).toEqual([subject, ...Array(4).fill(`Re: ${subject}`)]);
    const threadId = mails[0]!.messageId!;
    expect(new Set(mails.map((mail) => mail.messageId)).size).toBe(5);
    expect(mails.map((mail) => mail.messageId)).toEqual([1, 2, 3, 4, 5].map((n) => threadId.replace('.1@', `.${n}@`)));
    for (const reply of mails.slice(1)) {
      expect(reply.inReplyTo).toBe(threadId);
      expect(reply.references).toBe(threadId);
    }
    expect(mails.map((mail) => mail.text!.split('\n')[0])).toEqual([
      'New incident, WARNING.',
      'Escalated from WARNING to CRITICAL.',
      'De-escalated from CRITICAL to WARNING.',
      'Reminder: still firing at WARNING.',
      'Resolved.',
    ]);
    expect(mails[1]!.text).toContain('[CRITICAL] api-latency SLO: burning 94.0x now, budget exhausted in 7h 16m');
    // The reminder carries the figures the figures-only change brought, though that change sent nothing.
    expect(mails[3]!.text).toContain('Burn now: 8.5x over 30m');
    expect(mails[4]!.text).toContain('[RESOLVED] api-latency SLO: burned for 4h 30m, peak 94.0x, 6% of the budget consumed');
    expect(mails[4]!.text).toContain('Lasted: 4h 30m\nPeak severity: CRITICAL\nPeak burn: 94.0x\nBudget consumed: 6% (97% → 91% left)');
    expect(mails[4]!.html).toContain('<h2 style="color:#2EB67D">');
    expect(results.at(-1)?.receipt).toEqual({ email: { threadId, lastMessageId: mails[4]!.messageId } });
  });

  it('asks to hear of no figures-only change', () => {
    expect([...notifier('smtp://127.0.0.1:1').interests].sort()).toEqual(['de_escalated', 'escalated', 'first_notification', 'reminder_due', 'resolved']);
  });

  it('re-sends a retried mail with the same Message-ID; another receiver or incident gets its own thread', async () => {
    const smtp = await peer();
    const email = notifier(smtp.url(LOGIN));

    const ids = [];
    for (const [step, receiver] of [
      [first, 'team-api'],
      [first, 'team-api'],
      [first, 'team-db'],
      [firstOf('inc-another'), 'team-api'],
    ] as const) {
      ids.push((await email.notify(contextOf(step, { receiver }), NEVER_ABORTED)).receipt.email!.lastMessageId);
    }
    // The story's escalation, retried after an answer that never came: told the same, the same mail.
    const teller = new Teller(email, 'team-api');
    await teller.tell(first);
    const escalation = contextOf(story[1]!, { told: teller.told });
    const retried = [await email.notify(escalation, NEVER_ABORTED), await email.notify({ ...escalation, uncertain: true }, NEVER_ABORTED)];

    expect(ids[1]).toBe(ids[0]);
    expect(new Set(ids).size).toBe(3);
    expect(retried[1]).toEqual(retried[0]);
    expect(smtp.received.slice(-2).map((mail) => mail.parsed.messageId)).toEqual([
      retried[0]!.receipt.email!.lastMessageId,
      retried[0]!.receipt.email!.lastMessageId,
    ]);
  });

  it('speaks implicit TLS for smtps:// URLs', async () => {
    const smtp = await peer({ users: { [LOGIN.user]: LOGIN.pass }, tls: 'implicit' });

    await notifier(smtp.url(LOGIN)).notify(contextOf(first), NEVER_ABORTED);

    expect(smtp.url(LOGIN)).toMatch(/^smtps:/);
    expect(smtp.received[0]!.secure).toBe(true);
  });

  it('refuses a server certificate it does not trust', async () => {
    const smtp = await peer();

    const error = await sendExpectingFailure(notifier(smtp.url(LOGIN), { ca: UNRELATED_CA }).notify(contextOf(first), NEVER_ABORTED));

    expect(error).toMatchObject({ reason: 'network', retryable: true });
    expect(error.message).toContain('self-signed certificate');
    expect(smtp.received).toHaveLength(0);
  });
});

describe('EmailNotifier failures', () => {
  it.each([
    [550, 'Mailbox unavailable', 'not_found', false],
    [552, 'Message too large', 'bad_request', false],
    [451, 'Try again later', 'server_error', true],
    [452, 'Insufficient system storage', 'server_error', true],
  ])('classifies SMTP %i as %s', async (code, message, reason, retryable) => {
    const smtp = await peer();
    smtp.setBehavior({ kind: 'reply', code, message });

    const error = await sendExpectingFailure(notifier(smtp.url(LOGIN)).notify(contextOf(first), NEVER_ABORTED));

    expect(error).toMatchObject({ reason, retryable });
    expect(error.message).toContain(`SMTP ${code}`);
  });

  it('makes refused credentials (535) a permanent auth failure without showing them', async () => {
    const smtp = await peer();
    const wrong = { user: LOGIN.user, pass: 'wrong-smtp-password' };

    const error = await sendExpectingFailure(notifier(smtp.url(wrong)).notify(contextOf(first), NEVER_ABORTED));

    expect(error).toMatchObject({ reason: 'auth', retryable: false });
    expect(error.message).toContain('535');
    expect(`${error.message} ${error.stack}`).not.toContain(wrong.pass);
  });

  it('makes a server that never answers a retryable timeout', async () => {
    const smtp = await peer();
    smtp.setBehavior({ kind: 'hang' });

    const error = await sendExpectingFailure(notifier(smtp.url(LOGIN), { timeoutMs: 300 }).notify(contextOf(first), NEVER_ABORTED));

    expect(error).toMatchObject({ reason: 'timeout', retryable: true });
    expect(error.message).toBe('email receiver "team-api": no answer within 300 ms (SOCKET_TIMEOUT)');
  });

  it("stops when the caller's signal aborts", async () => {
    const smtp = await peer();
    smtp.setBehavior({ kind: 'hang' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);

    const error = await sendExpectingFailure(notifier(smtp.url(LOGIN), { timeoutMs: 10_000 }).notify(contextOf(first), controller.signal));

    expect(error).toMatchObject({ reason: 'timeout', retryable: true });
    expect(error.message).toContain('cancelled by the caller');
  });

  it('gives each delivery slot its own connection: relay sessions that hang hold back no other send', async () => {
    const smtp = await peer();
    const slots = 7;
    smtp.setBehavior({ kind: 'hang' }, slots - 1);
    const email = notifier(smtp.url(LOGIN), { timeoutMs: 30_000, connections: slots });
    const controller = new AbortController();
    const settled: string[] = [];
    const record = (outcome: string) => {
      settled.push(outcome);
      return outcome;
    };
    const sends = Array.from({ length: slots }, (_, i) =>
      email.notify(contextOf(firstOf(`inc-slot-${i}`)), controller.signal).then(
        () => record('sent'),
        () => record('failed'),
      ),
    );

    // With fewer connections than slots the free send would queue behind the hung sessions until they time out.
    // Its own answer, not the relay's receipt: the relay stores a mail just before it answers 250.
    await eventually(() => settled.includes('sent'), 10_000, 'the one send not held by a hung session');
    controller.abort();
    const outcomes = await Promise.all(sends);
    expect(outcomes.filter((outcome) => outcome === 'sent')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome === 'failed')).toHaveLength(slots - 1);
  });

  it('makes a refused connection a retryable network failure that hides the URL credentials', async () => {
    const smtp = await peer();
    const url = smtp.url(LOGIN);
    await smtp.close();

    const error = await sendExpectingFailure(notifier(url).notify(contextOf(first), NEVER_ABORTED));

    expect(error).toMatchObject({ reason: 'network', retryable: true });
    expect(error.message).toContain('ECONNREFUSED');
    for (const secret of [LOGIN.pass, encodeURIComponent(LOGIN.pass)]) {
      expect(`${error.message} ${error.stack}`).not.toContain(secret);
    }
  });
});

describe('EmailNotifier and untrusted text', () => {
  it('keeps header breaks out of the headers and the envelope, and escapes the HTML', async () => {
    const smtp = await peer();

    const all = Object.values(HOSTILE).join(' ');
    const hostile = hostileIncident({
      slo: `api-latency ${HOSTILE.mentions} ${HOSTILE.headerBreak}`,
      summary: all,
      description: all,
      labels: { alertname: 'MaestroSLOBurnRate', team: all, note: HOSTILE.headerBreak },
      service: `db ${HOSTILE.headerBreak}`,
    });
    const teller = new Teller(notifier(smtp.url(LOGIN)), 'team-api');
    await teller.tell({ ...first, incident: hostile });
    await teller.tell({ ...story[1]!, incident: { ...hostile, severity: 'critical' } });

    const [mail, reply] = smtp.received;
    for (const sent of [mail!, reply!]) {
      expect(sent.envelope.to).toEqual(TO);
      expect(sent.parsed.bcc).toBeUndefined();
      expect(sent.parsed.headers.has('bcc')).toBe(false);
    }
    const subject = `api-latency ${HOSTILE.mentions} x Bcc: victim@evil.example SLO on db x Bcc: victim@evil.example: incident opened 27 Nov 2026 10:00 UTC`;
    expect(mail!.parsed.subject).toBe(subject);
    expect(reply!.parsed.subject).toBe(`Re: ${subject}`);
    const html = mail!.parsed.html as string;
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt;');
    expect(html).toContain(`${HOSTILE.markdownLink} ${HOSTILE.template}`);
    expect(html).not.toContain('href="http://evil.example');
    expect(mail!.parsed.text).toContain(`${HOSTILE.markdownLink} ${HOSTILE.template}`);
  });

  it('drops links that are not http(s)', async () => {
    const smtp = await peer();

    const links = { runbookUrl: 'javascript:alert(1)', dashboardUrl: 'data:text/html,<b>x</b>', generatorUrl: null, alertmanagerUrl: null };
    await tellFirst(notifier(smtp.url(LOGIN)), firstOf(undefined, { links }));

    const html = smtp.received[0]!.parsed.html as string;
    expect(html).not.toContain('javascript:');
    expect(html).not.toContain('data:text');
    expect(html).not.toContain('>Runbook</a>');
  });

  it('cuts the subject to its limit with a marker', async () => {
    const smtp = await peer();

    await tellFirst(notifier(smtp.url(LOGIN)), firstOf(undefined, { slo: 's'.repeat(1000) }));

    const subject = smtp.received[0]!.parsed.subject!;
    expect(subject).toHaveLength(200);
    expect(subject.endsWith(TRUNCATION_MARKER)).toBe(true);
  });
});

describe('EmailNotifier, the message as sent', () => {
  it('goes out as one MIME message: CRLF only, no line over 78 characters, text and HTML alternatives', async () => {
    const smtp = await peer();

    const tier = warningTier({ description: `${'long words '.repeat(40)}\nsecond line` });
    const step = firstOf(undefined, { tiers: { [tier.id]: tier } });

    await tellFirst(notifier(smtp.url(LOGIN)), step);

    // Canonical before the transport sees it (which would mend bare line feeds in transit).
    const message = mimeMessage(composeIncidentMail(contextOf(step), { from: FROM, to: TO }));
    expect(message.split('\r\n').some((line) => line.includes('\n') || line.includes('\r'))).toBe(false);
    const [mail] = smtp.received;
    const lines = mail!.raw.split('\r\n');
    expect(Math.max(...lines.map((line) => line.length))).toBeLessThanOrEqual(78);
    expect(mail!.parsed.headers.get('content-type')).toMatchObject({ value: 'multipart/alternative' });
    expect(mail!.parsed.headers.get('mime-version')).toBe('1.0');
    expect(mail!.parsed.date!.getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(mail!.parsed.text).toContain(`${'long words '.repeat(40)}\nsecond line`);
    expect(mail!.parsed.html).toContain(`${'long words '.repeat(40)}<br>second line`);
  });

  it('encodes non-ASCII subjects and sender names, quotes names with punctuation, and names the bare address in MAIL FROM', async () => {
    const smtp = await peer();

    await tellFirst(notifier(smtp.url(LOGIN), { from: 'Équipe SRE <sre@maestro.example>' }), firstOf(undefined, { slo: 'latence-é' }));
    await notifier(smtp.url(LOGIN), { from: 'Ops, "Maestro" <ops@maestro.example>' }).notify(contextOf(first), NEVER_ABORTED);

    const [accented, punctuated] = smtp.received;
    expect(accented!.parsed.subject).toBe('latence-é SLO on maestro-api: incident opened 27 Nov 2026 10:00 UTC');
    expect(accented!.parsed.from!.value).toEqual([{ name: 'Équipe SRE', address: 'sre@maestro.example' }]);
    expect(accented!.envelope.from).toBe('sre@maestro.example');
    expect(punctuated!.parsed.from!.value).toEqual([{ name: 'Ops, "Maestro"', address: 'ops@maestro.example' }]);
    expect(punctuated!.envelope.from).toBe('ops@maestro.example');
  });

  it('keeps text that looks like SMTP or MIME syntax as text: a lone dot, a leading dot, the part boundary', async () => {
    const smtp = await peer();
    const email = notifier(smtp.url(LOGIN));
    await email.notify(contextOf(first), NEVER_ABORTED);
    const { boundary } = (smtp.received[0]!.parsed.headers.get('content-type') as { params: { boundary: string } }).params;
    const tricky = ['.', '.starts with a dot', `--${boundary}`, `--${boundary}--`, 'end'].join('\n');

    const tier = warningTier({ description: tricky });
    await tellFirst(email, firstOf('inc-tricky', { tiers: { [tier.id]: tier } }));

    const mail = smtp.received[1]!;
    expect(mail.parsed.text).toContain(tricky);
    expect(mail.parsed.html).toContain(tricky.replaceAll('\n', '<br>'));
  });
});
