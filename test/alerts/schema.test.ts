import { describe, expect, it } from 'vitest';
import { labelsFingerprint, MAX_ALERTS_PER_PAYLOAD, parseWebhookPayload, type WebhookPayload } from '../../src/alerts/schema.js';
import { PAYLOAD_FIXTURES, payloadFixture } from './fixtures.js';

function parsed(body: unknown): WebhookPayload {
  const result = parseWebhookPayload(body);
  if (!result.ok) throw new Error(`expected the payload to parse, got: ${result.message}`);
  return result.payload;
}

/** Four alerts, so that paths like alerts[3] exist. */
function fourAlerts(): any {
  const body = payloadFixture('alertmanager-0.25/group-two-alerts');
  body.alerts.push(...structuredClone(body.alerts));
  return body;
}

describe('parseWebhookPayload: real payloads', () => {
  it.each(PAYLOAD_FIXTURES)('accepts %s unchanged', (name) => {
    const body = payloadFixture(name);
    expect(parsed(body)).toEqual(body);
  });

  it.each([
    ['alertmanager-0.32/some-alerts-resolved', (p: any) => p.notification_reason, 'some alerts resolved'],
    ['alertmanager-0.34/route-labels', (p: any) => p.routeLabels, { team: 'platform' }],
    ['grafana/slo-alerts', (p: any) => [p.version, p.orgId, p.state, p.appVersion], ['1', 1, 'alerting', '12.1.0']],
    ['grafana/slo-alerts', (p: any) => p.alerts[0].values, { B: 2.31, C: 1 }],
    ['grafana/slo-alerts', (p: any) => p.alerts[1].values, null],
    ['grafana/slo-alerts', (p: any) => p.alerts[0].ruleUID, 'ce3x9k2l1mfb4a'],
  ] as const)('keeps the fields it does not know in %s', (name, read, expected) => {
    expect(read(parsed(payloadFixture(name)))).toEqual(expected);
  });

  it('accepts a payload of alerts without annotations, endsAt, generatorURL or fingerprint', () => {
    const body = payloadFixture('alertmanager-0.25/critical-firing');
    for (const field of ['annotations', 'endsAt', 'generatorURL', 'fingerprint']) delete body.alerts[0][field];
    expect(parsed(body).alerts[0]).toMatchObject({ status: 'firing', startsAt: '2026-11-27T18:02:50.23213853Z' });
  });
});

describe('parseWebhookPayload: fingerprint', () => {
  it.each(PAYLOAD_FIXTURES.filter((name) => !name.startsWith('grafana/')))('computes Alertmanager’s own fingerprint when %s omits it', (name) => {
    const body = payloadFixture(name);
    const sent = body.alerts.map((alert: any) => alert.fingerprint);
    for (const alert of body.alerts) delete alert.fingerprint;
    expect(parsed(body).alerts.map((alert) => alert.fingerprint)).toEqual(sent);
  });

  it('treats an empty fingerprint as missing', () => {
    const body = payloadFixture('alertmanager-0.25/warning-firing');
    body.alerts[0].fingerprint = '';
    expect(parsed(body).alerts[0]!.fingerprint).toBe('08bad4c045c6c390');
  });

  it('keeps the fingerprint a sender computed its own way (Grafana)', () => {
    expect(parsed(payloadFixture('grafana/slo-alerts')).alerts[0]!.fingerprint).toBe('9d1c0e5b2f7a4e83');
  });

  it.each([
    [{}, 'cbf29ce484222325'],
    [{ b: '2', a: '1' }, labelsFingerprint({ a: '1', b: '2' })],
  ])('is stable for %j regardless of key order', (labels, expected) => {
    expect(labelsFingerprint(labels)).toBe(expected);
  });

  it('hashes values as UTF-8, so distinct values give distinct fingerprints', () => {
    expect(labelsFingerprint({ team: 'équipe' })).not.toBe(labelsFingerprint({ team: 'equipe' }));
    expect(labelsFingerprint({ team: 'équipe' })).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('parseWebhookPayload: rejections name the first problem', () => {
  const cases: Array<[string, (body: any) => unknown, string]> = [
    ['labels is an array', (b) => (b.alerts[3].labels = []), 'alerts[3].labels: expected object'],
    ['labels is null', (b) => (b.alerts[3].labels = null), 'alerts[3].labels: expected object'],
    ['labels is missing', (b) => delete b.alerts[0].labels, 'alerts[0].labels: required'],
    ['a label value is a number', (b) => (b.alerts[2].labels.severity = 2), 'alerts[2].labels.severity: expected string'],
    ['an annotation is an object', (b) => (b.alerts[1].annotations.summary = {}), 'alerts[1].annotations.summary: expected string'],
    ['an alert status is unknown', (b) => (b.alerts[1].status = 'pending'), 'alerts[1].status: expected one of firing|resolved'],
    ['an alert status is missing', (b) => delete b.alerts[0].status, 'alerts[0].status: required'],
    ['startsAt is missing', (b) => delete b.alerts[0].startsAt, 'alerts[0].startsAt: required'],
    ['startsAt is not a timestamp', (b) => (b.alerts[0].startsAt = 'yesterday'), 'alerts[0].startsAt: expected an RFC 3339 timestamp'],
    ['startsAt lacks a zone', (b) => (b.alerts[0].startsAt = '2026-11-27T18:02:50'), 'alerts[0].startsAt: expected an RFC 3339 timestamp'],
    ['endsAt is a number', (b) => (b.alerts[0].endsAt = 0), 'alerts[0].endsAt: expected string'],
    ['fingerprint is a number', (b) => (b.alerts[0].fingerprint = 12), 'alerts[0].fingerprint: expected string'],
    ['an alert is a string', (b) => (b.alerts[2] = 'alert'), 'alerts[2]: expected object'],
    ['alerts is missing', (b) => delete b.alerts, 'alerts: required'],
    ['alerts is an object', (b) => (b.alerts = {}), 'alerts: expected array'],
    ['groupKey is missing', (b) => delete b.groupKey, 'groupKey: required'],
    ['externalURL is missing', (b) => delete b.externalURL, 'externalURL: required'],
    ['version is a number', (b) => (b.version = 4), 'version: expected string'],
    ['the top-level status is unknown', (b) => (b.status = 'ok'), 'status: expected one of firing|resolved'],
    ['commonLabels is a string', (b) => (b.commonLabels = 'x'), 'commonLabels: expected object'],
    ['truncatedAlerts is negative', (b) => (b.truncatedAlerts = -1), 'truncatedAlerts: at least 0'],
    ['truncatedAlerts is a fraction', (b) => (b.truncatedAlerts = 1.5), 'truncatedAlerts: expected integer'],
    ['notification_reason is a number', (b) => (b.notification_reason = 1), 'notification_reason: expected string'],
  ];

  it.each(cases)('%s', (_, mutate, message) => {
    const body = fourAlerts();
    mutate(body);
    expect(parseWebhookPayload(body)).toEqual({ ok: false, message });
  });

  it.each([[null], [[]], ['alerts'], [42]])('refuses a body that is not an object: %j', (body) => {
    expect(parseWebhookPayload(body)).toEqual({ ok: false, message: '(root): expected object' });
  });

  it(`refuses more than ${MAX_ALERTS_PER_PAYLOAD} alerts`, () => {
    const body = payloadFixture('alertmanager-0.25/critical-firing');
    body.alerts = Array.from({ length: MAX_ALERTS_PER_PAYLOAD + 1 }, () => body.alerts[0]);
    expect(parseWebhookPayload(body)).toEqual({ ok: false, message: `alerts: at most ${MAX_ALERTS_PER_PAYLOAD} items` });
    body.alerts.pop();
    expect(parsed(body).alerts).toHaveLength(MAX_ALERTS_PER_PAYLOAD);
  });
});

describe('parseWebhookPayload: prototype keys stay inert', () => {
  // JSON.parse makes "__proto__" an own property, exactly as a request body arrives.
  const body = JSON.parse(`{
    "__proto__": { "pollutedRoot": "yes" },
    "version": "4", "status": "firing", "groupKey": "{}:{}", "externalURL": "http://am:9093",
    "commonLabels": { "__proto__": { "pollutedCommon": "yes" } },
    "alerts": [{
      "__proto__": { "pollutedAlert": "yes" },
      "status": "firing", "startsAt": "2026-11-27T18:02:50Z",
      "labels": { "__proto__": "x", "constructor": "c", "toString": "t", "hasOwnProperty": "h", "alertname": "A" },
      "annotations": { "__proto__": { "pollutedAnnotations": "yes" }, "constructor": "c" }
    }]
  }`);

  it('parses, keeping constructor-like names as plain labels and dropping __proto__', () => {
    const payload = parsed(body);
    const alert = payload.alerts[0]!;
    expect(Object.keys(alert.labels)).toEqual(['constructor', 'toString', 'hasOwnProperty', 'alertname']);
    expect(alert.labels.constructor).toBe('c');
    expect(alert.annotations).toEqual({ constructor: 'c' });
    expect(alert.fingerprint).toBe(labelsFingerprint({ constructor: 'c', toString: 't', hasOwnProperty: 'h', alertname: 'A' }));
  });

  it('gives no parsed object a borrowed prototype', () => {
    const payload = parsed(body);
    const alert = payload.alerts[0]!;
    for (const object of [payload, payload.commonLabels, alert, alert.labels, alert.annotations]) {
      expect(Object.getPrototypeOf(object)).toBe(Object.prototype);
      expect(Object.hasOwn(object!, '__proto__')).toBe(false);
    }
    expect((payload as any).pollutedRoot).toBeUndefined();
    expect((alert as any).pollutedAlert).toBeUndefined();
  });

  it('leaves Object.prototype alone', () => {
    parsed(body);
    const probe: any = {};
    for (const name of ['pollutedRoot', 'pollutedCommon', 'pollutedAlert', 'pollutedAnnotations']) {
      expect(probe[name]).toBeUndefined();
    }
  });
});
