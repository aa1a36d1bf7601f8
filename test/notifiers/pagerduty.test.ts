import { channel } from 'node:diagnostics_channel';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PagerDutyNotifier, type PagerDutyNotifierOptions } from '../../src/notifiers/pagerduty/pagerduty.js';
import { TRUNCATION_MARKER } from '../../src/notifiers/render/text.js';
import { DeliveryError, type SyncResult } from '../../src/notifiers/types.js';
import { heldAnswers, type PeerBehavior } from '../peers/http-peer.js';
import { type PagerDutyPeer, startPagerDutyPeer } from '../peers/pagerduty-peer.js';
import { TEST_TLS, UNRELATED_CA } from '../peers/tls.js';
import { scriptPeer } from '../support/peer-script.js';
import { HOSTILE, NEVER_ABORTED } from './helpers.js';
import { at, contextOf, escalationStory, hostileIncident, incident, type Step, Teller } from './incidents.js';

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

const story = escalationStory();
const first = story[0]!;
const KEY = 'alertcenter/incident/inc-api-latency-7f3a9c';

/** The first notification of the story's incident, or of another incident. */
function firstOf(id?: string, overrides: Parameters<typeof incident>[0] = {}): Step {
  return { ...first, incident: incident({ ...(id === undefined ? {} : { id }), ...overrides }) };
}

async function sendExpectingFailure(send: Promise<SyncResult>): Promise<DeliveryError> {
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

describe('PagerDutyNotifier, one alert per incident', () => {
  it('triggers at the incident severity, triggers again higher on escalation, keeps the page on de-escalation, resolves: one dedup_key', async () => {
    const pagerduty = notifier();
    const teller = new Teller(pagerduty, 'pager-api');

    const results = [];
    for (const step of story) results.push(await teller.tell(step));

    // Never a new page for figures or a reminder.
    expect(results.map((result) => result?.action ?? 'none')).toEqual(['triggered', 'triggered', 'triggered', 'none', 'none', 'resolved']);
    for (const result of results) if (result !== null) expect(result.receipt).toEqual({ pagerduty: { dedupKey: KEY } });
    expect([...peer.incidents]).toEqual([[KEY, { status: 'resolved', summary: expect.any(String), events: 4 }]]);
    const events = peer.received.map((request) => request.event);
    expect(events.map((event) => [event.event_action, event.dedup_key, event.payload?.severity])).toEqual([
      ['trigger', KEY, 'warning'],
      ['trigger', KEY, 'critical'],
      // PagerDuty cannot lower urgency: the trigger keeps the peak, the details say what changed.
      ['trigger', KEY, 'critical'],
      ['resolve', KEY, undefined],
    ]);
    expect(peer.received.map((request) => request.tlsProtocol)).toEqual(['TLSv1.3', 'TLSv1.3', 'TLSv1.3', 'TLSv1.3']);

    const [trigger, escalation, deEscalation, resolve] = events;
    expect(trigger).toEqual({
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: KEY,
      payload: {
        summary: '[WARNING] api-latency SLO: burning 7.2x now, budget exhausted in 4d 1h',
        source: 'maestro-api',
        severity: 'warning',
        timestamp: new Date(at(1)).toISOString(),
        component: 'maestro-api',
        group: 'api-latency',
        class: 'MaestroSLOBurnRate',
        custom_details: {
          Incident: 'inc-api-latency-7f3a9c',
          State: 'open',
          'What is happening':
            'api-latency SLO is burning its 30d error budget at 7.2x now (30m), 6.9x over 6h. 97% of it is left: gone in 4d 1h at the burn now.',
          Severity: 'WARNING',
          'Burn now': '7.2x over 30m',
          'Burn, long window': '6.9x over 6h',
          'Budget remaining': '97% of 30d',
          'Budget exhausted in': '4d 1h at the burn now',
          Objective: '99.5% over 30d',
          Service: 'maestro-api',
          'Tiers firing': 'warning 6h',
          Opened: '10:00 UTC (1 min ago)',
          Tiers: ['warning 6h: firing since 10:00 UTC (1 min ago), 6.9x over 6h'],
          Summary: 'api-latency is burning its 30d error budget too fast',
          Description: 'Latency SLO of maestro-api: 99.5% of API requests complete within 200 ms.',
          Labels: { alertname: 'MaestroSLOBurnRate', long_window: '6h', service: 'maestro-api', severity: 'warning', slo: 'api-latency' },
        },
      },
      links: [
        { href: 'https://runbooks.maestro.example/slo-api-latency', text: 'Runbook' },
        { href: 'https://grafana.maestro.example/d/maestro-slo?var-slo=api-latency', text: 'Dashboard' },
        { href: 'http://prometheus.example:9090/graph?g0.expr=slo%3Aburn_rate', text: 'Prometheus expression' },
        { href: expect.stringMatching(/^http:\/\/alertmanager\.example:9093\/#\/silences\/new\?filter=/), text: 'Silence' },
      ],
    });
    expect(escalation.payload.summary).toBe('[CRITICAL] api-latency SLO: burning 94.0x now, budget exhausted in 7h 16m');
    expect(escalation.payload.custom_details.Change).toBe('Escalated from WARNING to CRITICAL at 10:41 UTC');
    expect(deEscalation.payload.custom_details).toMatchObject({
      Change:
        "De-escalated from CRITICAL to WARNING at 11:11 UTC. PagerDuty cannot lower an alert's urgency: it stays at CRITICAL until the incident resolves.",
      'Current severity': 'warning',
      'Paged at': 'critical',
      Severity: 'WARNING (peaked at CRITICAL)',
    });
    expect(resolve).toEqual({ routing_key: ROUTING_KEY, event_action: 'resolve', dedup_key: KEY });
  });

  it('asks to hear of no figures and no reminders; of acknowledgements, not of their undoing (the Events API has none)', () => {
    expect([...notifier().interests].sort()).toEqual(['acknowledged', 'de_escalated', 'escalated', 'first_notification', 'resolved']);
  });

  it('resolves whatever the decision once the incident has resolved: a late sync never re-opens the page', async () => {
    const pagerduty = notifier();
    await pagerduty.notify(contextOf(first), NEVER_ABORTED);
    const resolved = story.at(-1)!.incident;

    const late = await pagerduty.notify(contextOf({ ...story[1]!, incident: resolved }), NEVER_ABORTED);

    expect(late.action).toBe('resolved');
    expect(peer.received.map((request) => request.event.event_action)).toEqual(['trigger', 'resolve']);
    expect(peer.incidents.get(KEY)?.status).toBe('resolved');
  });

  it('checks the server certificate: an untrusted one fails before any event is sent', async () => {
    const error = await sendExpectingFailure(notifier({ ca: UNRELATED_CA }).notify(contextOf(first), NEVER_ABORTED));

    expect(error).toMatchObject({ reason: 'network', retryable: true });
    expect(error.message).toContain('self-signed certificate');
    expect(peer.received).toHaveLength(0);
  });
});

describe('PagerDutyNotifier failures', () => {
  it('turns a 429 with Retry-After into rate_limited at once, without the retries pdjs would make', async () => {
    peer.setBehavior({ kind: 'rate_limited', retryAfterSeconds: 12 });

    const error = await sendExpectingFailure(notifier().notify(contextOf(first), NEVER_ABORTED));
    await new Promise((resolve) => setTimeout(resolve, 200));

    expect(error).toMatchObject({ reason: 'rate_limited', retryable: true, retryAfterMs: 12_000 });
    expect(peer.received).toHaveLength(1);
  });

  it('waits 30 s after a 429 that names no Retry-After', async () => {
    peer.setBehavior({ kind: 'rate_limited' });

    const error = await sendExpectingFailure(notifier().notify(contextOf(first), NEVER_ABORTED));

    expect(error).toMatchObject({ reason: 'rate_limited', retryable: true, retryAfterMs: 30_000 });
  });

  it('makes a 5xx with an HTML body retryable, and the retry then triggers once', async () => {
    peer.setBehavior({ kind: 'http_error', status: 502 }, 1);
    const pagerduty = notifier();

    const error = await sendExpectingFailure(pagerduty.notify(contextOf(first), NEVER_ABORTED));
    expect(error).toMatchObject({ reason: 'server_error', retryable: true });
    expect(error.message).toContain('HTTP 502');

    await pagerduty.notify(contextOf(first), NEVER_ABORTED);
    expect([...peer.incidents.values()]).toEqual([expect.objectContaining({ status: 'triggered', events: 1 })]);
  });

  it('makes a hung request a retryable timeout', async () => {
    peer.setBehavior({ kind: 'hang' });

    const error = await sendExpectingFailure(notifier({ timeoutMs: 200 }).notify(contextOf(first), NEVER_ABORTED));

    expect(error).toMatchObject({ reason: 'timeout', retryable: true });
    expect(error.message).toContain('no answer within 200 ms');
  });

  it("stops when the caller's signal aborts", async () => {
    peer.setBehavior({ kind: 'hang' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);

    const error = await sendExpectingFailure(notifier({ timeoutMs: 10_000 }).notify(contextOf(first), controller.signal));

    expect(error).toMatchObject({ reason: 'timeout', retryable: true });
    expect(error.message).toContain('cancelled by the caller');
  });

  it('makes an unknown routing key (400) a permanent auth failure that does not show the key', async () => {
    const wrongKey = 'WRONGKEY000000000000000000SECRET';

    const error = await sendExpectingFailure(notifier({ routingKey: wrongKey }).notify(contextOf(first), NEVER_ABORTED));

    expect(error).toMatchObject({ reason: 'auth', retryable: false });
    expect(error.message).toBe('pagerduty receiver "pager-api": HTTP 400 invalid event; Event object is invalid; Invalid routing key');
    expect(`${error.message} ${error.stack}`).not.toContain(wrongKey);
  });

  it('makes a refused connection a retryable network failure', async () => {
    await peer.close();

    const error = await sendExpectingFailure(notifier().notify(contextOf(first), NEVER_ABORTED));

    expect(error).toMatchObject({ reason: 'network', retryable: true });
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).not.toContain(ROUTING_KEY);
  });
});

describe('PagerDutyNotifier, sends sharing one connection pool', () => {
  /** Triggers of distinct incidents, each with its own dedup_key. */
  const incidentNumbered = (n: number) => contextOf(firstOf(`concurrent-${n}`));
  const keyOf = (n: number) => `alertcenter/incident/concurrent-${n}`;
  const triggered = (n: number) => ({ action: 'triggered', receipt: { pagerduty: { dedupKey: keyOf(n) } } });

  it('sends one event after another over one TLS connection', async () => {
    const pagerduty = notifier();

    await pagerduty.notify(contextOf(first), NEVER_ABORTED);
    await pagerduty.notify(contextOf(story.at(-1)!), NEVER_ABORTED);

    expect(peer.received).toHaveLength(2);
    expect(peer.tlsConnections).toBe(1);
  });

  it("fails only the send whose caller's signal aborts, while the others are in flight", async () => {
    const { held, release } = heldAnswers();
    peer.setBehavior(held);
    const pagerduty = notifier({ timeoutMs: 10_000 });
    const controllers = [0, 1, 2, 3].map(() => new AbortController());

    const sends = controllers.map((controller, n) => pagerduty.notify(incidentNumbered(n), controller.signal));
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
    for (const n of [0, 2, 3]) expect(results[n]).toEqual({ status: 'fulfilled', value: triggered(n) });
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

    const sends = [0, 1, 2, 3, 4, 5].map((n) => pagerduty.notify(incidentNumbered(n), NEVER_ABORTED));
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
    for (const n of [0, 2, 3, 5]) expect(results[n]).toEqual({ status: 'fulfilled', value: triggered(n) });
    // pdjs retried nothing.
    expect(peer.received).toHaveLength(6);
  });

  it('stops watching responses once closed', async () => {
    const pagerduty = notifier();
    await pagerduty.notify(contextOf(first), NEVER_ABORTED);
    expect(channel('http.client.response.finish').hasSubscribers).toBe(true);

    await pagerduty.close();

    expect(channel('http.client.response.finish').hasSubscribers).toBe(false);
  });
});

describe('PagerDutyNotifier and untrusted text', () => {
  it('sends hostile text as plain one-line summary and verbatim details', async () => {
    const all = Object.values(HOSTILE).join(' ');
    const hostile = hostileIncident({
      slo: `api-latency ${HOSTILE.mentions} ${HOSTILE.headerBreak}`,
      summary: all,
      description: all,
      labels: { alertname: 'MaestroSLOBurnRate', team: all, note: HOSTILE.headerBreak },
    });
    await notifier().notify(contextOf({ ...first, incident: hostile }), NEVER_ABORTED);

    const { payload } = peer.received[0]!.event;
    expect(payload.summary).toBe(`[WARNING] api-latency ${HOSTILE.mentions} x Bcc: victim@evil.example SLO: burning 7.2x now, budget exhausted in 4d 1h`);
    expect(payload.group).toBe(`api-latency ${HOSTILE.mentions} x Bcc: victim@evil.example`);
    expect(payload.custom_details.Summary).toBe(Object.values(HOSTILE).join(' '));
    expect(payload.custom_details.Labels.note).toBe(HOSTILE.headerBreak);
  });

  it('cuts the summary to 1024 characters with a marker', async () => {
    await notifier().notify(contextOf(firstOf(undefined, { slo: 's'.repeat(2000) })), NEVER_ABORTED);

    const { summary } = peer.received[0]!.event.payload;
    expect(summary).toHaveLength(1024);
    expect(summary.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(peer.incidents.size).toBe(1);
  });

  it('sends a long incident id under a dedup_key PagerDuty accepts, the same for trigger and resolve', async () => {
    const id = 'f'.repeat(400);
    const pagerduty = notifier();

    await pagerduty.notify(contextOf(firstOf(id)), NEVER_ABORTED);
    await pagerduty.notify(contextOf({ ...story.at(-1)!, incident: { ...story.at(-1)!.incident, id } }), NEVER_ABORTED);

    expect(peer.incidents.size).toBe(1);
    const [[key, incident]] = [...peer.incidents] as [[string, unknown]];
    expect(key.length).toBeLessThanOrEqual(255);
    expect(incident).toMatchObject({ status: 'resolved', events: 2 });
  });
});
