import { afterEach, describe, expect, it } from 'vitest';
import { EmailNotifier, type EmailNotifierOptions } from '../../src/notifiers/legacy/email/email.js';
import { composeMail } from '../../src/notifiers/legacy/email/message.js';
import { mimeMessage } from '../../src/notifiers/email/mime.js';
import { TRUNCATION_MARKER } from '../../src/notifiers/render/text.js';
import { DeliveryError, type DeliveryReceipt } from '../../src/notifiers/types.js';
import { startSmtpPeer, type SmtpPeer, type SmtpPeerOptions } from '../peers/smtp-peer.js';
import { TEST_TLS, UNRELATED_CA } from '../peers/tls.js';
import { eventually } from '../support/router.js';
import { alertFixture, HOSTILE, hostileAlert, NEVER_ABORTED, notificationFixture, resolvedFixture } from './helpers.js';

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

async function sendExpectingFailure(send: Promise<DeliveryReceipt>): Promise<DeliveryError> {
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

describe('EmailNotifier, firing and resolved', () => {
  it('sends the firing mail over STARTTLS with subject, facts, links and a derived Message-ID', async () => {
    const smtp = await peer();

    const receipt = await notifier(smtp.url(LOGIN)).send(notificationFixture(alertFixture()), NEVER_ABORTED);

    expect(smtp.received).toHaveLength(1);
    const [mail] = smtp.received;
    expect(mail!.secure).toBe(true);
    expect(mail!.user).toBe(LOGIN.user);
    expect(mail!.envelope).toEqual({ from: 'alerts@maestro.example', to: TO });
    const { parsed } = mail!;
    expect(parsed.subject).toBe('[WARNING] api-latency SLO: 5% of error budget consumed (6.0x burn)');
    expect(parsed.messageId).toMatch(/^<alertcenter\.[0-9a-f]{32}@maestro\.example>$/);
    expect(receipt).toEqual({ id: parsed.messageId, action: 'sent' });
    expect(parsed.inReplyTo).toBeUndefined();
    expect(parsed.text).toContain('Burn rate: 6.0x\nBudget consumed: 5%\nBudget exhausted in: 5d\nObjective: 99.5% over 30d');
    expect(parsed.text).toContain('Runbook: https://runbooks.maestro.example/slo-api-latency');
    expect(parsed.html).toContain('<h2 style="color:#ECB22E">[WARNING] api-latency SLO: 5% of error budget consumed (6.0x burn)</h2>');
    expect(parsed.html).toContain('<a href="https://grafana.maestro.example/d/maestro-slo?var-slo=api-latency">Dashboard</a>');
    expect(parsed.html).toContain('>Silence</a>');
  });

  it('threads the resolved mail under the firing one (In-Reply-To, References)', async () => {
    const smtp = await peer();
    const email = notifier(smtp.url(LOGIN));

    await email.send(notificationFixture(alertFixture()), NEVER_ABORTED);
    await email.send(notificationFixture(resolvedFixture()), NEVER_ABORTED);

    const [firing, resolved] = smtp.received.map((mail) => mail.parsed);
    expect(resolved!.subject).toBe('[RESOLVED] api-latency SLO: 5% of error budget consumed (6.0x burn)');
    expect(resolved!.messageId).not.toBe(firing!.messageId);
    expect(resolved!.inReplyTo).toBe(firing!.messageId);
    expect(resolved!.references).toBe(firing!.messageId);
    expect(resolved!.text).toContain('Fired for: 2h 5m');
  });

  it('gives the same episode the same Message-ID and another receiver or episode a different one', async () => {
    const smtp = await peer();
    const email = notifier(smtp.url(LOGIN));

    const ids = [];
    for (const notification of [
      notificationFixture(alertFixture()),
      notificationFixture(alertFixture()),
      notificationFixture(alertFixture(), 'team-db'),
      notificationFixture(alertFixture({ startsAt: '2026-11-28T10:00:00Z' })),
    ]) {
      ids.push((await email.send(notification, NEVER_ABORTED)).id);
    }

    expect(ids[1]).toBe(ids[0]);
    expect(new Set(ids).size).toBe(3);
  });

  it('speaks implicit TLS for smtps:// URLs', async () => {
    const smtp = await peer({ users: { [LOGIN.user]: LOGIN.pass }, tls: 'implicit' });

    await notifier(smtp.url(LOGIN)).send(notificationFixture(alertFixture()), NEVER_ABORTED);

    expect(smtp.url(LOGIN)).toMatch(/^smtps:/);
    expect(smtp.received[0]!.secure).toBe(true);
  });

  it('refuses a server certificate it does not trust', async () => {
    const smtp = await peer();

    const error = await sendExpectingFailure(
      notifier(smtp.url(LOGIN), { ca: UNRELATED_CA }).send(notificationFixture(alertFixture()), NEVER_ABORTED),
    );

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

    const error = await sendExpectingFailure(notifier(smtp.url(LOGIN)).send(notificationFixture(alertFixture()), NEVER_ABORTED));

    expect(error).toMatchObject({ reason, retryable });
    expect(error.message).toContain(`SMTP ${code}`);
  });

  it('makes refused credentials (535) a permanent auth failure without showing them', async () => {
    const smtp = await peer();
    const wrong = { user: LOGIN.user, pass: 'wrong-smtp-password' };

    const error = await sendExpectingFailure(notifier(smtp.url(wrong)).send(notificationFixture(alertFixture()), NEVER_ABORTED));

    expect(error).toMatchObject({ reason: 'auth', retryable: false });
    expect(error.message).toContain('535');
    expect(`${error.message} ${error.stack}`).not.toContain(wrong.pass);
  });

  it('makes a server that never answers a retryable timeout', async () => {
    const smtp = await peer();
    smtp.setBehavior({ kind: 'hang' });

    const error = await sendExpectingFailure(
      notifier(smtp.url(LOGIN), { timeoutMs: 300 }).send(notificationFixture(alertFixture()), NEVER_ABORTED),
    );

    expect(error).toMatchObject({ reason: 'timeout', retryable: true });
    expect(error.message).toBe('email receiver "team-api": no answer within 300 ms (SOCKET_TIMEOUT)');
  });

  it("stops when the caller's signal aborts", async () => {
    const smtp = await peer();
    smtp.setBehavior({ kind: 'hang' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);

    const error = await sendExpectingFailure(
      notifier(smtp.url(LOGIN), { timeoutMs: 10_000 }).send(notificationFixture(alertFixture()), controller.signal),
    );

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
      email.send(notificationFixture(alertFixture({ fingerprint: `slot${i}` })), controller.signal).then(
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

    const error = await sendExpectingFailure(notifier(url).send(notificationFixture(alertFixture()), NEVER_ABORTED));

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

    await notifier(smtp.url(LOGIN)).send(notificationFixture(hostileAlert()), NEVER_ABORTED);

    const [mail] = smtp.received;
    expect(mail!.envelope.to).toEqual(TO);
    expect(mail!.parsed.bcc).toBeUndefined();
    expect(mail!.parsed.headers.has('bcc')).toBe(false);
    expect(mail!.parsed.subject).toBe(
      `[WARNING] api-latency ${HOSTILE.mentions} x Bcc: victim@evil.example SLO: 5% of error budget consumed (6.0x burn)`,
    );
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

    await notifier(smtp.url(LOGIN)).send(
      notificationFixture(alertFixture({ runbookUrl: 'javascript:alert(1)', dashboardUrl: 'data:text/html,<b>x</b>' })),
      NEVER_ABORTED,
    );

    const html = smtp.received[0]!.parsed.html as string;
    expect(html).not.toContain('javascript:');
    expect(html).not.toContain('data:text');
    expect(html).not.toContain('>Runbook</a>');
  });

  it('cuts the subject to its limit with a marker', async () => {
    const smtp = await peer();

    await notifier(smtp.url(LOGIN)).send(notificationFixture(alertFixture({ slo: 's'.repeat(1000) })), NEVER_ABORTED);

    const subject = smtp.received[0]!.parsed.subject!;
    expect(subject).toHaveLength(200);
    expect(subject.endsWith(TRUNCATION_MARKER)).toBe(true);
  });
});

describe('EmailNotifier, the message as sent', () => {
  it('goes out as one MIME message: CRLF only, no line over 78 characters, text and HTML alternatives', async () => {
    const smtp = await peer();

    const notification = notificationFixture(alertFixture({ description: `${'long words '.repeat(40)}\nsecond line` }));

    await notifier(smtp.url(LOGIN)).send(notification, NEVER_ABORTED);

    // Canonical before the transport sees it (which would mend bare line feeds in transit).
    const message = mimeMessage(composeMail(notification, { from: FROM, to: TO }));
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

    await notifier(smtp.url(LOGIN), { from: 'Équipe SRE <sre@maestro.example>' }).send(
      notificationFixture(alertFixture({ slo: 'latence-é' })),
      NEVER_ABORTED,
    );
    await notifier(smtp.url(LOGIN), { from: 'Ops, "Maestro" <ops@maestro.example>' }).send(notificationFixture(alertFixture()), NEVER_ABORTED);

    const [accented, punctuated] = smtp.received;
    expect(accented!.parsed.subject).toBe('[WARNING] latence-é SLO: 5% of error budget consumed (6.0x burn)');
    expect(accented!.parsed.from!.value).toEqual([{ name: 'Équipe SRE', address: 'sre@maestro.example' }]);
    expect(accented!.envelope.from).toBe('sre@maestro.example');
    expect(punctuated!.parsed.from!.value).toEqual([{ name: 'Ops, "Maestro"', address: 'ops@maestro.example' }]);
    expect(punctuated!.envelope.from).toBe('ops@maestro.example');
  });

  it('keeps text that looks like SMTP or MIME syntax as text: a lone dot, a leading dot, the part boundary', async () => {
    const smtp = await peer();
    const email = notifier(smtp.url(LOGIN));
    await email.send(notificationFixture(alertFixture()), NEVER_ABORTED);
    const { boundary } = (smtp.received[0]!.parsed.headers.get('content-type') as { params: { boundary: string } }).params;
    const tricky = ['.', '.starts with a dot', `--${boundary}`, `--${boundary}--`, 'end'].join('\n');

    await email.send(notificationFixture(alertFixture({ fingerprint: 'b2c3d4e5f6071829', description: tricky })), NEVER_ABORTED);

    const mail = smtp.received[1]!;
    expect(mail.parsed.text).toContain(tricky);
    expect(mail.parsed.html).toContain(tricky.replaceAll('\n', '<br>'));
  });
});
