import { channel } from 'node:diagnostics_channel';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PagerDutyNotifier, type PagerDutyNotifierOptions } from '../../src/notifiers/legacy/pagerduty/pagerduty.js';
import { TRUNCATION_MARKER } from '../../src/notifiers/render/text.js';
import { DeliveryError, type DeliveryReceipt } from '../../src/notifiers/types.js';
import { heldAnswers, type PeerBehavior } from '../peers/http-peer.js';
import { startPagerDutyPeer, type PagerDutyPeer } from '../peers/pagerduty-peer.js';
import { TEST_TLS, UNRELATED_CA } from '../peers/tls.js';
import { scriptPeer } from '../support/peer-script.js';
import { alertFixture, HOSTILE, hostileAlert, NEVER_ABORTED, notificationFixture, resolvedFixture } from './helpers.js';

const ROUTING_KEY = 'R0UT1NGKEY0000000000000000SECRET';

let peer: PagerDutyPeer;
let notifiers: PagerDutyNotifier[] = [];

function notifier(overrides: Partial<PagerDutyNotifierOptions> = {}): PagerDutyNotifier {
  const pagerduty = new PagerDutyNotifier({
    receiver: 'pager-api',
    routingKey: ROUTING_KEY,
    server: peer.server,
    timeoutMs: 2000,
    ca: TEST_TLS.cert,
    ...overrides,
  });
  notifiers.push(pagerduty);
  return pagerduty;
}

async function sendExpectingFailure(send: Promise<DeliveryReceipt>): Promise<DeliveryError> {
  const error = await send.then(
    () => expect.unreachable('the send should have failed'),
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(DeliveryError);
  return error as DeliveryError;
}

beforeEach(async () => {
  peer = await startPagerDutyPeer({ routingKeys: [ROUTING_KEY] });
});

afterEach(async () => {
  await Promise.all(notifiers.map((pagerduty) => pagerduty.close()));
  notifiers = [];
  await peer.close();
});

describe('PagerDutyNotifier, trigger and resolve', () => {
  it('triggers an incident over TLS with summary, severity, details and links, then resolves it with the same dedup_key', async () => {
    const pagerduty = notifier();

    const triggered = await pagerduty.send(notificationFixture(alertFixture()), NEVER_ABORTED);
    const resolved = await pagerduty.send(notificationFixture(resolvedFixture()), NEVER_ABORTED);

    const key = 'alertcenter/a1b2c3d4e5f60718';
    expect(triggered).toEqual({ id: key, action: 'triggered' });
    expect(resolved).toEqual({ id: key, action: 'resolved' });
    expect([...peer.incidents]).toEqual([[key, { status: 'resolved', summary: expect.any(String), events: 2 }]]);
    expect(peer.received.map((request) => request.tlsProtocol)).toEqual(['TLSv1.3', 'TLSv1.3']);
    const [trigger, resolve] = peer.received.map((request) => request.event);
    expect(trigger).toEqual({
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: key,
      payload: {
        summary: '[WARNING] api-latency SLO: 5% of error budget consumed (6.0x burn)',
        source: 'maestro-api',
        severity: 'warning',
        timestamp: '2026-11-27T10:00:00Z',
        component: 'maestro-api',
        group: 'api-latency',
        class: 'SLOBurnRate',
        custom_details: {
          Service: 'maestro-api',
          'Burn rate': '6.0x',
          'Budget consumed': '5%',
          'Budget exhausted in': '5d',
          Objective: '99.5% over 30d',
          'Alert window': '6h (short 30m)',
          Started: '2026-11-27T10:00:00Z',
          Summary: 'api-latency is burning its error budget 6x too fast',
          Description: 'Latency SLO of maestro-api: 5% of the 30d error budget went in the last 6h.',
          Labels: { alertname: 'SLOBurnRate', service: 'maestro-api', severity: 'warning', slo: 'api-latency' },
        },
      },
      links: [
        { href: 'https://runbooks.maestro.example/slo-api-latency', text: 'Runbook' },
        { href: 'https://grafana.maestro.example/d/maestro-slo?var-slo=api-latency', text: 'Dashboard' },
        { href: 'http://prometheus.example:9090/graph?g0.expr=slo%3Aburn_rate', text: 'Prometheus expression' },
        { href: expect.stringMatching(/^http:\/\/alertmanager\.example:9093\/#\/silences\/new\?filter=/), text: 'Silence' },
      ],
    });
    expect(resolve).toMatchObject({ routing_key: ROUTING_KEY, event_action: 'resolve', dedup_key: key });
  });

  it('checks the server certificate: an untrusted one fails before any event is sent', async () => {
    const error = await sendExpectingFailure(
      notifier({ ca: UNRELATED_CA }).send(notificationFixture(alertFixture()), NEVER_ABORTED),
    );

    expect(error).toMatchObject({ reason: 'network', retryable: true });
    expect(error.message).toContain('self-signed certificate');
    expect(peer.received).toHaveLength(0);
  });
});

describe('PagerDutyNotifier failures', () => {
  it('turns a 429 with Retry-After into rate_limited at once, without the retries pdjs would make', async () => {
    peer.setBehavior({ kind: 'rate_limited', retryAfterSeconds: 12 });

    const error = await sendExpectingFailure(notifier().send(notificationFixture(alertFixture()), NEVER_ABORTED));
    await new Promise((resolve) => setTimeout(resolve, 200));

    expect(error).toMatchObject({ reason: 'rate_limited', retryable: true, retryAfterMs: 12_000 });
    expect(peer.received).toHaveLength(1);
  });

  it('waits 30 s after a 429 that names no Retry-After', async () => {
    peer.setBehavior({ kind: 'rate_limited' });

    const error = await sendExpectingFailure(notifier().send(notificationFixture(alertFixture()), NEVER_ABORTED));

    expect(error).toMatchObject({ reason: 'rate_limited', retryable: true, retryAfterMs: 30_000 });
  });

  it('makes a 5xx with an HTML body retryable, and the retry then triggers once', async () => {
    peer.setBehavior({ kind: 'http_error', status: 502 }, 1);
    const pagerduty = notifier();

    const error = await sendExpectingFailure(pagerduty.send(notificationFixture(alertFixture()), NEVER_ABORTED));
    expect(error).toMatchObject({ reason: 'server_error', retryable: true });
    expect(error.message).toContain('HTTP 502');

    await pagerduty.send(notificationFixture(alertFixture()), NEVER_ABORTED);
    expect([...peer.incidents.values()]).toEqual([expect.objectContaining({ status: 'triggered', events: 1 })]);
  });

  it('makes a hung request a retryable timeout', async () => {
    peer.setBehavior({ kind: 'hang' });

    const error = await sendExpectingFailure(notifier({ timeoutMs: 200 }).send(notificationFixture(alertFixture()), NEVER_ABORTED));

    expect(error).toMatchObject({ reason: 'timeout', retryable: true });
    expect(error.message).toContain('no answer within 200 ms');
  });

  it("stops when the caller's signal aborts", async () => {
    peer.setBehavior({ kind: 'hang' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);

    const error = await sendExpectingFailure(
      notifier({ timeoutMs: 10_000 }).send(notificationFixture(alertFixture()), controller.signal),
    );

    expect(error).toMatchObject({ reason: 'timeout', retryable: true });
    expect(error.message).toContain('cancelled by the caller');
  });

  it('makes an unknown routing key (400) a permanent auth failure that does not show the key', async () => {
    const wrongKey = 'WRONGKEY000000000000000000SECRET';

    const error = await sendExpectingFailure(
      notifier({ routingKey: wrongKey }).send(notificationFixture(alertFixture()), NEVER_ABORTED),
    );

    expect(error).toMatchObject({ reason: 'auth', retryable: false });
    expect(error.message).toBe(
      'pagerduty receiver "pager-api": HTTP 400 invalid event; Event object is invalid; Invalid routing key',
    );
    expect(`${error.message} ${error.stack}`).not.toContain(wrongKey);
  });

  it('makes a refused connection a retryable network failure', async () => {
    await peer.close();

    const error = await sendExpectingFailure(notifier().send(notificationFixture(alertFixture()), NEVER_ABORTED));

    expect(error).toMatchObject({ reason: 'network', retryable: true });
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).not.toContain(ROUTING_KEY);
  });
});

describe('PagerDutyNotifier, sends sharing one connection pool', () => {
  /** Triggers of distinct alerts, each with its own dedup_key. */
  const alertNumbered = (n: number) => notificationFixture(alertFixture({ fingerprint: `concurrent-${n}` }));
  const keyOf = (n: number) => `alertcenter/concurrent-${n}`;

  it('sends one event after another over one TLS connection', async () => {
    const pagerduty = notifier();

    await pagerduty.send(notificationFixture(alertFixture()), NEVER_ABORTED);
    await pagerduty.send(notificationFixture(resolvedFixture()), NEVER_ABORTED);

    expect(peer.received).toHaveLength(2);
    expect(peer.tlsConnections).toBe(1);
  });

  it("fails only the send whose caller's signal aborts, while the others are in flight", async () => {
    const { held, release } = heldAnswers();
    peer.setBehavior(held);
    const pagerduty = notifier({ timeoutMs: 10_000 });
    const controllers = [0, 1, 2, 3].map(() => new AbortController());

    const sends = controllers.map((controller, n) => pagerduty.send(alertNumbered(n), controller.signal));
    const settled = Promise.allSettled(sends);
    await vi.waitFor(() => expect(peer.received).toHaveLength(4), { timeout: 10_000 });
    controllers[1]!.abort();
    await sends[1]!.catch(() => {});
    release();
    const results = await settled;

    expect(results[1]).toMatchObject({
      status: 'rejected',
      reason: { reason: 'timeout', message: expect.stringContaining('cancelled by the caller') },
    });
    for (const n of [0, 2, 3]) expect(results[n]).toEqual({ status: 'fulfilled', value: { id: keyOf(n), action: 'triggered' } });
  });

  it('ends only the throttled send at its 429, and classifies each failure by its own response', async () => {
    const [throttled, broken] = [keyOf(1), keyOf(4)];
    const { held, release } = heldAnswers();
    scriptPeer(peer, ({ event }): PeerBehavior => {
      if (event.dedup_key === throttled) return { kind: 'rate_limited', retryAfterSeconds: 12 };
      if (event.dedup_key === broken) return { kind: 'http_error', status: 502 };
      return held;
    });
    const pagerduty = notifier({ timeoutMs: 10_000 });

    const sends = [0, 1, 2, 3, 4, 5].map((n) => pagerduty.send(alertNumbered(n), NEVER_ABORTED));
    const settled = Promise.allSettled(sends);
    // The others are still in flight when the 429 and the 502 arrive.
    await Promise.allSettled([sends[1], sends[4]]);
    release();
    const results = await settled;

    expect(results[1]).toMatchObject({ status: 'rejected', reason: { reason: 'rate_limited', retryAfterMs: 12_000 } });
    expect(results[4]).toMatchObject({
      status: 'rejected',
      reason: { reason: 'server_error', message: expect.stringContaining('HTTP 502') },
    });
    for (const n of [0, 2, 3, 5]) expect(results[n]).toEqual({ status: 'fulfilled', value: { id: keyOf(n), action: 'triggered' } });
    // pdjs retried nothing.
    expect(peer.received).toHaveLength(6);
  });

  it('stops watching responses once closed', async () => {
    const pagerduty = notifier();
    await pagerduty.send(notificationFixture(alertFixture()), NEVER_ABORTED);
    expect(channel('http.client.response.finish').hasSubscribers).toBe(true);

    await pagerduty.close();

    expect(channel('http.client.response.finish').hasSubscribers).toBe(false);
  });
});

describe('PagerDutyNotifier and untrusted text', () => {
  it('sends hostile text as plain one-line summary and verbatim details', async () => {
    await notifier().send(notificationFixture(hostileAlert()), NEVER_ABORTED);

    const { payload } = peer.received[0]!.event;
    expect(payload.summary).toBe(
      `[WARNING] api-latency ${HOSTILE.mentions} x Bcc: victim@evil.example SLO: 5% of error budget consumed (6.0x burn)`,
    );
    expect(payload.group).toBe(`api-latency ${HOSTILE.mentions} x Bcc: victim@evil.example`);
    expect(payload.custom_details.Summary).toBe(Object.values(HOSTILE).join(' '));
    expect(payload.custom_details.Labels.note).toBe(HOSTILE.headerBreak);
  });

  it('cuts the summary to 1024 characters with a marker', async () => {
    await notifier().send(notificationFixture(alertFixture({ slo: 's'.repeat(2000) })), NEVER_ABORTED);

    const { summary } = peer.received[0]!.event.payload;
    expect(summary).toHaveLength(1024);
    expect(summary.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(peer.incidents.size).toBe(1);
  });

  it('sends a long fingerprint under a dedup_key PagerDuty accepts, the same for trigger and resolve', async () => {
    const fingerprint = 'f'.repeat(400);
    const pagerduty = notifier();

    await pagerduty.send(notificationFixture(alertFixture({ fingerprint })), NEVER_ABORTED);
    await pagerduty.send(notificationFixture(resolvedFixture({ fingerprint })), NEVER_ABORTED);

    expect(peer.incidents.size).toBe(1);
    const [[key, incident]] = [...peer.incidents] as [[string, unknown]];
    expect(key.length).toBeLessThanOrEqual(255);
    expect(incident).toMatchObject({ status: 'resolved', events: 2 });
  });
});
