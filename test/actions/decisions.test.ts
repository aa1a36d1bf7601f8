import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseAlertmanagerTarget } from '../../src/alertmanager/client.js';
import { incidentMatchers, matcherText } from '../../src/alertmanager/matchers.js';
import { verifyPagerDutySignature, verifySlackSignature } from '../../src/api/signatures.js';
import { ConfigError, loadConfig, secretsOf } from '../../src/config/env.js';
import { acknowledgeIncident, recordPagerDutyResolve, recordSilence, recordUnsilence, unacknowledgeIncident } from '../../src/incidents/actions.js';
import { clearAlerts } from '../../src/incidents/apply.js';
import { figuresDigest, statusDigest } from '../../src/incidents/figures.js';
import type { Actor, Incident, Told } from '../../src/incidents/types.js';
import { PAGERDUTY_INTERESTS } from '../../src/notifiers/pagerduty/event.js';
import { renderIncident } from '../../src/notifiers/render/incident-view.js';
import { composeThreadReply } from '../../src/notifiers/slack/message.js';
import { SLACK_INTERESTS } from '../../src/notifiers/slack/slack.js';
import { needsUpdate } from '../../src/sync/decide.js';
import { at, criticalTier, incident, T0, warningTier } from '../notifiers/incidents.js';

const alice: Actor = { name: 'alice', id: 'U0ALICE', via: 'slack' };
const earline: Actor = { name: 'Earline Greenholt', id: 'PAGENT1', via: 'pagerduty' };
const told = (of: Incident, lastAt: number, acknowledged = false): Told => ({
  rev: of.rev,
  state: of.state,
  severity: of.severity,
  figures: figuresDigest(of),
  acknowledged,
  status: statusDigest(of),
  firstAt: lastAt,
  lastAt,
  receipt: {},
  sent: 1,
});
const critical = () => incident({ severity: 'critical', peakSeverity: 'critical', tiers: { [criticalTier().id]: criticalTier() } });

describe('signatures, as Slack and PagerDuty document them', () => {
  // Slack's own worked example (api.slack.com/authentication/verifying-requests-from-slack).
  const body = Buffer.from(
    'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c',
  );
  const headers = { timestamp: '1531420618', signature: 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503' };
  const secret = '8f742231b10e8888abcd99yyyzzz85a5';

  it('Slack v0: the documented example passes with either secret of a rotation; a stale one, another secret or body, and no secret at all do not', () => {
    expect(verifySlackSignature(['old-secret', secret], headers, body, 1531420618_000 + 60_000)).toEqual({ ok: true });
    expect(verifySlackSignature([secret], headers, body, 1531420618_000 + 5 * 60_000 + 1_000)).toMatchObject({ ok: false, reason: 'stale_timestamp' });
    expect(verifySlackSignature(['another'], headers, body, 1531420618_000)).toMatchObject({ ok: false, reason: 'bad_signature' });
    expect(verifySlackSignature([secret], headers, Buffer.concat([body, Buffer.from('&x=1')]), 1531420618_000)).toMatchObject({
      ok: false,
      reason: 'bad_signature',
    });
    expect(verifySlackSignature([secret], { ...headers, signature: 'v0=abc' }, body, 1531420618_000)).toMatchObject({ ok: false, reason: 'bad_signature' });
    expect(verifySlackSignature([], headers, body, 1531420618_000)).toMatchObject({ ok: false, reason: 'not_configured' });
  });

  it('PagerDuty v1: any of several signatures, with any secret', () => {
    const payload = Buffer.from('{"event":{"id":"e1"}}');
    const good = `v1=${createHmac('sha256', 'pd-secret').update(payload).digest('hex')}`;
    expect(verifyPagerDutySignature(['pd-secret'], `v1=${'0'.repeat(64)}, ${good}`, payload)).toEqual({ ok: true });
    expect(verifyPagerDutySignature(['rotated', 'pd-secret'], good, payload)).toEqual({ ok: true });
    expect(verifyPagerDutySignature(['pd-secret'], `v1=${'0'.repeat(64)}`, payload)).toMatchObject({ ok: false, reason: 'bad_signature' });
    expect(verifyPagerDutySignature(['pd-secret'], 'v0=abc', payload)).toMatchObject({ ok: false, reason: 'missing_signature' });
  });
});

describe('acknowledge and silence, as pure changes of the incident', () => {
  it('a second acknowledgement changes nothing; a resolved incident is never acknowledged', () => {
    const first = acknowledgeIncident(critical(), alice, at(5))!;
    expect(first.incident.acknowledged).toEqual({ by: 'alice', userId: 'U0ALICE', via: 'slack', at: new Date(at(5)).toISOString() });
    expect(first.incident.rev).toBe(2);
    expect(first.events).toMatchObject([{ kind: 'acknowledged', by: 'alice' }]);
    expect(acknowledgeIncident(first.incident, earline, at(6))).toBeNull();
    expect(acknowledgeIncident(incident({ state: 'resolved' }), alice, at(6))).toBeNull();
    expect(unacknowledgeIncident(first.incident, earline, at(7))!.incident.acknowledged).toBeNull();
  });

  it('a silence is recorded once; an unsilence of other silences than those recorded changes nothing', () => {
    const silences = [
      { alertmanager: 'http://am1', id: 's1' },
      { alertmanager: 'http://am2', id: 's2' },
    ];
    const silenced = recordSilence(critical(), alice, { untilMs: at(65), comment: '', silences, matchers: ['alertname="x"'] }, at(5))!;
    expect(silenced.incident.silenced).toMatchObject({ until: new Date(at(65)).toISOString(), by: 'alice', silences });
    expect(recordSilence(silenced.incident, alice, { untilMs: at(70), comment: '', silences: [], matchers: [] }, at(6))).toBeNull();
    expect(recordUnsilence(silenced.incident, alice, false, [silences[0]!], at(7))).toBeNull();
    expect(recordUnsilence(silenced.incident, alice, true, [...silences].reverse(), at(65))!.events).toMatchObject([{ kind: 'unsilenced', expired: true }]);
  });

  it("the silence's matchers: the incident key's labels and its alertname", () => {
    expect(incidentMatchers(critical()).map(matcherText)).toEqual(['alertname="MaestroSLOBurnRate"', 'service="maestro-api"', 'slo="api-latency"']);
  });

  it('alerts Alertmanager no longer lists resolve, and the incident resolves after its hold-down', () => {
    const open = critical();
    const marks = { fp1: { tier: criticalTier().id, status: 'firing' as const, version: 2 * T0, startsAt: new Date(T0).toISOString() } };
    expect(clearAlerts(open, marks, new Set(['fp1']), at(10))).toBeNull();
    const cleared = clearAlerts(open, marks, new Set(), at(10))!;
    expect(cleared.incident.state).toBe('resolving');
    expect(cleared.marks.fp1!.status).toBe('resolved');
    expect(cleared.events.map((event) => event.kind)).toEqual(['alertmanager_checked', 'tier_cleared', 'resolving']);
  });
});

describe('what each channel hears of it', () => {
  const pagerduty = { now: at(20), interests: PAGERDUTY_INTERESTS, channel: 'pagerduty' };
  const slack = { now: at(20), interests: SLACK_INTERESTS, channel: 'slack' };

  it('PagerDuty gets acknowledge when it was paged and the acknowledgement came from elsewhere; never its own back', () => {
    const paged = critical();
    const fromSlack = acknowledgeIncident(paged, alice, at(5))!.incident;
    expect(needsUpdate(fromSlack, 'pd', told(paged, at(1)), pagerduty)).toBe('acknowledged');
    expect(needsUpdate(fromSlack, 'pd', null, pagerduty)).toBe('not_routed');
    const fromPagerDuty = acknowledgeIncident(paged, earline, at(5))!.incident;
    expect(needsUpdate(fromPagerDuty, 'pd', told(paged, at(1)), pagerduty)).toBe('up_to_date');
    expect(needsUpdate(fromPagerDuty, 'slack', told(paged, at(1)), slack)).toBe('acknowledged');
  });

  it('resolved in PagerDuty: a de-escalation tells PagerDuty nothing, a later escalation pages again; Slack shows it', () => {
    const paged = critical();
    const resolvedThere = recordPagerDutyResolve(paged, earline, at(10)).incident;
    expect(renderIncident(resolvedThere, at(11)).status).toEqual([
      'Resolved in PagerDuty by Earline Greenholt at 10:10 UTC while still burning: a later escalation pages again',
    ]);
    expect(needsUpdate(resolvedThere, 'slack', told(paged, at(1)), slack)).toBe('status_changed');
    const deEscalated = { ...resolvedThere, severity: 'warning' as const, tiers: { [warningTier().id]: warningTier() } };
    expect(needsUpdate(deEscalated, 'pd', told(paged, at(1)), pagerduty)).toBe('up_to_date');
    const escalatedAgain = { ...resolvedThere, lastEscalatedAt: new Date(at(15)).toISOString() };
    expect(needsUpdate(escalatedAgain, 'pd', told({ ...paged }, at(1)), pagerduty)).toBe('escalated');
    // Once it paged again, PagerDuty is back to the usual rules.
    expect(needsUpdate(escalatedAgain, 'pd', told(escalatedAgain, at(16)), pagerduty)).toBe('up_to_date');
  });

  it("an escalation of an acknowledged incident says in Slack's thread who acknowledged, since PagerDuty notifies nobody", () => {
    const acknowledged = acknowledgeIncident(critical(), alice, at(5))!.incident;
    const reply = composeThreadReply(
      { receiver: 'slack', incident: acknowledged, told: told(incident(), at(1), true), decision: 'escalated', uncertain: false, now: at(20) },
      renderIncident(acknowledged, at(20)),
    );
    expect(reply.text).toContain('Escalated from WARNING to CRITICAL at 10:20 UTC.');
    expect(reply.text).toContain('Acknowledged by @alice, 10:05 UTC: PagerDuty notifies nobody of an escalation of an acknowledged incident');
  });
});

describe('ALERTMANAGER_URLS', () => {
  it('takes basic auth and bearer tokens as user info, names each Alertmanager without them, and scrubs them from logs', () => {
    expect(parseAlertmanagerTarget('https://ops:p%40ss@am1.example:9093/')).toEqual({
      url: 'https://am1.example:9093',
      authorization: `Basic ${Buffer.from('ops:p@ss').toString('base64')}`,
      secrets: ['p@ss', 'p%40ss'],
    });
    expect(parseAlertmanagerTarget('http://bearer:tok3n@127.0.0.1:9093')).toMatchObject({ url: 'http://127.0.0.1:9093', authorization: 'Bearer tok3n' });
    const config = loadConfig({ ALERTMANAGER_URLS: 'http://127.0.0.1:9093, https://bearer:tok3n@am2.example:9093' });
    expect(config.actions.alertmanagers.map((target) => target.url)).toEqual(['http://127.0.0.1:9093', 'https://am2.example:9093']);
    expect(secretsOf(config)).toContain('tok3n');
  });

  it('refuses anything but http(s) URLs without repeating the entry (it may hold a password)', () => {
    expect(() => loadConfig({ ALERTMANAGER_URLS: 'ftp://user:hunter2@am:21' })).toThrow(
      new ConfigError('ALERTMANAGER_URLS: entry 1: expected an http or https URL, got ftp://...'),
    );
    expect(() => loadConfig({ ALERTMANAGER_URLS: 'http://127.0.0.1:9093,not a url hunter2' })).toThrow(
      new ConfigError('ALERTMANAGER_URLS: entry 2: a malformed URL'),
    );
  });
});
