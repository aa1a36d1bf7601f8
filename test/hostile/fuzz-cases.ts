import { burnRatePayload } from '../support/payloads.js';

/**
 * Generated webhook bodies for the fuzz test. Every `hostileCase` is broken BY CONSTRUCTION (each
 * generator makes sure the payload has at least one defect the schema or the JSON reader must
 * refuse), so the only right answer is a 4xx; `validCase` is hostile too, but valid, so it must be
 * accepted and delivered. One PRNG per case, seeded from (run seed, index): any case rebuilds alone.
 */

/** mulberry32: small, fast, and the same sequence on every platform. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** From `min` to `max`, both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }
}

export const caseRng = (seed: number, index: number) => new Rng(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35));

export interface FuzzCase {
  category: string;
  body: Bytes;
  /** undefined: no Content-Type header at all. */
  contentType: string | undefined;
  /** Sent with Transfer-Encoding: chunked (no Content-Length). */
  chunked: boolean;
}

type Json = any;
/** Buffers over a plain ArrayBuffer, as fetch takes for a body. */
type Bytes = Buffer<ArrayBuffer>;
type Path = Array<string | number>;

const JSON_TYPE = 'application/json';
const utf8 = (text: string) => Buffer.from(text, 'utf8');
const jsonCase = (category: string, text: string | Bytes, contentType: string | undefined = JSON_TYPE): FuzzCase => ({
  category,
  body: typeof text === 'string' ? utf8(text) : text,
  contentType,
  chunked: false,
});

/** Keys that must never reach a prototype. */
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype'] as const;

/** Sets an own property, even `__proto__` (plain assignment would set the prototype instead). */
function defineOwn(target: Json, key: string | number, value: Json): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function at(root: Json, path: Path): { parent: Json; key: string | number } {
  let parent = root;
  for (const part of path.slice(0, -1)) parent = parent[part];
  return { parent, key: path[path.length - 1]! };
}

/** A fresh payload of 1-3 alerts (the seed only has to keep fingerprints apart). */
function basePayload(rng: Rng): Json {
  return burnRatePayload({ count: rng.int(1, 3), seed: `z${rng.int(0, 0xffffff).toString(16)}`, severity: rng.pick(['warning', 'critical']) });
}

function anyAlertPath(rng: Rng, payload: Json, field: string): Path {
  return ['alerts', rng.int(0, payload.alerts.length - 1), field];
}

/**
 * JSON text with raw bytes spliced in where `marker(i)` strings stand: deep nesting, invalid
 * UTF-8 and bare tokens cannot be built as values.
 */
const RAW_MARKER = (i: number) => `@@raw${i}@@`;
function withRaw(payload: Json, raws: Bytes[]): Bytes {
  let text = JSON.stringify(payload);
  const parts: Bytes[] = [];
  raws.forEach((raw, i) => {
    const [before, after] = text.split(`"${RAW_MARKER(i)}"`) as [string, string];
    if (after === undefined) throw new Error(`fuzz generator: marker ${i} not found`);
    parts.push(utf8(before), raw);
    text = after;
  });
  parts.push(utf8(text));
  return Buffer.concat(parts);
}

/** `text` with `bytes` where `@@cut@@` stands. */
function spliceBytes(text: string, bytes: Bytes): Bytes {
  const [before, after] = text.split('@@cut@@') as [string, string];
  return Buffer.concat([utf8(before), bytes, utf8(after)]);
}

function longString(rng: Rng, min: number, max: number): string {
  const unit = rng.pick(['a', 'é', '€', '😀', '\\', '"', '<!channel>', '\u0000']);
  return unit.repeat(Math.ceil(rng.int(min, max) / unit.length));
}

/** Values of every JSON type but `except`. */
function wrongTypedValue(rng: Rng, except: 'string' | 'object' | 'array' | 'number'): Json {
  const pool: Array<[string, () => Json]> = [
    ['string', () => rng.pick(['', 'x', 'severity=critical', '4', 'null', longString(rng, 100, 5_000)])],
    ['number', () => rng.pick([0, -1, 4, 1.5, 1e308, -0, Number.MAX_SAFE_INTEGER])],
    ['boolean', () => rng.pick([true, false])],
    ['null', () => null],
    ['array', () => rng.pick([[], ['x'], [1, 2], [{}], [null]])],
    ['object', () => rng.pick([{}, { a: 'b' }, { severity: 'critical' }])],
  ];
  return rng.pick(pool.filter(([type]) => type !== except))[1]();
}

/** Strings that are not `firing` or `resolved`, however close. */
function notAStatus(rng: Rng): string {
  return rng.pick([
    'FIRING',
    'Firing',
    'fire',
    'firing ',
    ' resolved',
    'resolving',
    '',
    'ｆｉｒｉｎｇ',
    'fir\u200bing',
    '\u202efiring',
    'firing\u0000',
    'fir\ud800ing',
    'résolved',
    'firing\r\nX-Injected: 1',
    longString(rng, 1_000, 50_000),
  ]);
}

/** Strings that are not RFC 3339 timestamps with an offset. */
function notATimestamp(rng: Rng): Json {
  return rng.pick([
    '',
    'yesterday',
    'now',
    '2026-11-27',
    '2026-11-27T18:00:00',
    '2026-11-27 18:00:00Z',
    '27/11/2026 18:00',
    '２０２６-11-27T18:00:00Z',
    '٢٠٢٦-١١-٢٧T18:00:00Z',
    '2026-11-27T18:00:00Z\u0000',
    '0',
    1795888800,
    null,
    longString(rng, 100, 20_000),
  ]);
}

/** A structurally wrong value for a required or typed field, by the field's kind. */
const FIELD_KINDS: Record<string, 'string' | 'status' | 'timestamp' | 'alerts' | 'record' | 'count'> = {
  version: 'string',
  groupKey: 'string',
  externalURL: 'string',
  receiver: 'string',
  notification_reason: 'string',
  status: 'status',
  alerts: 'alerts',
  groupLabels: 'record',
  commonLabels: 'record',
  commonAnnotations: 'record',
  truncatedAlerts: 'count',
};
const ALERT_FIELD_KINDS: Record<string, 'string' | 'status' | 'timestamp' | 'record'> = {
  status: 'status',
  labels: 'record',
  annotations: 'record',
  startsAt: 'timestamp',
  endsAt: 'timestamp',
  generatorURL: 'string',
  fingerprint: 'string',
  dashboardURL: 'string',
  panelURL: 'string',
};

function wrongValueFor(rng: Rng, kind: string): Json {
  switch (kind) {
    case 'string':
      return wrongTypedValue(rng, 'string');
    case 'status':
      return rng.chance(0.6) ? notAStatus(rng) : wrongTypedValue(rng, 'string');
    case 'timestamp':
      return notATimestamp(rng);
    case 'alerts':
      return rng.chance(0.5) ? wrongTypedValue(rng, 'array') : [rng.pick([1, 'alert', null, [], true])];
    case 'record':
      return rng.chance(0.5) ? wrongTypedValue(rng, 'object') : { severity: wrongTypedValue(rng, 'string') };
    case 'count':
      return rng.pick([-1, 1.5, '3', true, null, -0.5, 'many', [0]]);
    default:
      throw new Error(`fuzz generator: unknown kind ${kind}`);
  }
}

const REQUIRED = ['version', 'groupKey', 'status', 'alerts', 'externalURL'];
const REQUIRED_IN_ALERT = ['status', 'labels', 'startsAt'];

/** Each generator returns a case that must be refused with a 4xx. */
const GENERATORS: Record<string, (rng: Rng, limit: number) => FuzzCase> = {
  truncated(rng) {
    const text = utf8(JSON.stringify(withUnicode(basePayload(rng))));
    return jsonCase('truncated', text.subarray(0, rng.int(0, text.length - 1)));
  },

  'invalid-json'(rng) {
    const text = JSON.stringify(basePayload(rng));
    const breakers: Array<() => string | Bytes> = [
      () => text + rng.pick(['x', '}', ']', ',', '{}', ' 1', 'null', '\u0000']),
      () => `\ufeff${text}`,
      () => text.replaceAll('"', "'"),
      () => `${text.slice(0, -1)},}`,
      () => text.replace('"version":', 'version:'),
      () =>
        text.replace(
          '"truncatedAlerts":0',
          `"truncatedAlerts":${rng.pick(['NaN', 'Infinity', '-Infinity', 'undefined', '0x10', '01', '.5', '+1', '1e', '-'])}`,
        ),
      () => `{/* comment */${text.slice(1)}`,
      () => `{// comment\n${text.slice(1)}`,
      () => text.replace('"firing"', `"fir${rng.pick(['\u0000', '\u0001', '\t', '\n', '\r', '\u001f'])}ing"`),
      () => text.replace('"firing"', `"fir${rng.pick(['\\q', '\\u12', '\\x41', '\\', '\\U0041'])}ing"`),
      () => text.replace('","groupKey"', '" "groupKey"'),
      () => text.replace('"status":', '"status"'),
      () => rng.pick(['', ' ', '\n\t ', 'undefined', 'NaN', '{', '[', '"', '{"version":"4"', '{}}', '[]]']),
      () => Buffer.from(text, 'utf16le'),
    ];
    return jsonCase('invalid-json', rng.pick(breakers)());
  },

  'not-an-object'(rng) {
    const payload = basePayload(rng);
    const values = [null, 0, -1, 1e308, 'alerts', true, false, [], [payload], JSON.stringify(payload), [[payload]]];
    return jsonCase('not-an-object', JSON.stringify(rng.pick(values)));
  },

  'missing-field'(rng) {
    const payload = basePayload(rng);
    if (rng.chance(0.5)) delete payload[rng.pick(REQUIRED)];
    else {
      const { parent, key } = at(payload, anyAlertPath(rng, payload, rng.pick(REQUIRED_IN_ALERT)));
      delete parent[key];
    }
    return jsonCase('missing-field', JSON.stringify(payload));
  },

  'wrong-type'(rng) {
    const payload = basePayload(rng);
    if (rng.chance(0.5)) {
      const field = rng.pick(Object.keys(FIELD_KINDS));
      payload[field] = wrongValueFor(rng, FIELD_KINDS[field]!);
    } else {
      const field = rng.pick(Object.keys(ALERT_FIELD_KINDS));
      const { parent, key } = at(payload, anyAlertPath(rng, payload, field));
      parent[key] = wrongValueFor(rng, ALERT_FIELD_KINDS[field]!);
    }
    return jsonCase('wrong-type', JSON.stringify(payload));
  },

  'number-for-string'(rng) {
    const payload = basePayload(rng);
    const number = rng.pick([4, 0, -1, 99.5, 1e21, 6.4]);
    const alert = payload.alerts[rng.int(0, payload.alerts.length - 1)];
    const target = rng.pick([
      () => (payload.version = number),
      () => (payload.groupKey = number),
      () => (payload.externalURL = number),
      () => (alert.labels[rng.pick(['severity', 'slo', 'burn_rate_threshold', 'instance'])] = number),
      () => (alert.annotations[rng.pick(['burn_rate', 'summary'])] = number),
      () => (alert.fingerprint = number),
      () => (alert.generatorURL = number),
    ]);
    target();
    return jsonCase('number-for-string', JSON.stringify(payload));
  },

  'bad-timestamp'(rng) {
    const payload = basePayload(rng);
    const { parent, key } = at(payload, anyAlertPath(rng, payload, rng.pick(['startsAt', 'endsAt'])));
    parent[key] = notATimestamp(rng);
    return jsonCase('bad-timestamp', JSON.stringify(payload));
  },

  'huge-alerts-array'(rng) {
    const alert = { status: 'firing', labels: { a: 'b' }, startsAt: '2026-11-27T18:00:00Z' };
    const payload = basePayload(rng);
    // Around 70 bytes each: under the body limit up to about 1,800 alerts, over it beyond.
    payload.alerts = Array.from({ length: rng.int(1001, 3000) }, () => alert);
    return jsonCase('huge-alerts-array', JSON.stringify(payload));
  },

  'huge-other-array'(rng, limit) {
    const payload = basePayload(rng);
    const element = rng.pick([0, 'x', null, {}, []]);
    const array = new Array(rng.int(1_000, Math.floor(limit / 4))).fill(element);
    const place = rng.pick([
      () => (payload.alerts[0].labels = array),
      () => (payload.alerts[0].annotations = array),
      () => (payload.alerts = [array]),
      () => (payload.groupLabels = array),
      () => (payload.status = array),
    ]);
    place();
    return jsonCase('huge-other-array', rng.chance(0.2) ? JSON.stringify(array) : JSON.stringify(payload));
  },

  'huge-object'(rng) {
    const payload = basePayload(rng);
    const labels: Record<string, Json> = {};
    const count = rng.int(1_000, 4_000);
    for (let i = 0; i < count; i++) labels[`l${i}`] = 'v';
    labels[`l${rng.int(0, count - 1)}`] = wrongTypedValue(rng, 'string');
    payload.alerts[0][rng.pick(['labels', 'annotations'])] = labels;
    return jsonCase('huge-object', JSON.stringify(payload));
  },

  'over-body-limit'(rng, limit) {
    const payload = basePayload(rng);
    const extra = rng.chance(0.97) ? rng.int(1, 64 * 1024) : rng.int(1, 2) * 1024 * 1024;
    const size = limit + extra;
    const body = rng.chance(0.5)
      ? // Valid JSON, a valid payload even, only too big.
        JSON.stringify({ ...payload, commonAnnotations: { padding: 'p'.repeat(size) } })
      : JSON.stringify(payload) + ' '.repeat(size);
    return jsonCase('over-body-limit', body);
  },

  'over-body-limit-chunked'(rng, limit) {
    const body = JSON.stringify({ ...basePayload(rng), commonAnnotations: { padding: 'p'.repeat(limit + rng.int(1, 64 * 1024)) } });
    return { ...jsonCase('over-body-limit-chunked', body), chunked: true };
  },

  'deep-nesting'(rng) {
    const depth = rng.int(1_000, 20_000);
    const [open, close] = rng.pick([
      ['[', ']'],
      ['{"a":', '}'],
      ['[{"labels":', '}]'],
    ] as const);
    const balanced = rng.chance(0.8);
    const nested = utf8(open.repeat(depth) + (open.startsWith('{') || open.endsWith(':') ? '1' : '') + (balanced ? close.repeat(depth) : ''));
    if (rng.chance(0.2)) return jsonCase('deep-nesting', nested);
    const payload = basePayload(rng);
    const marker = RAW_MARKER(0);
    const place = rng.pick([
      // An unknown field of an otherwise valid payload: the schema keeps unknown fields.
      () => (payload.extensions = marker),
      () => (payload.alerts[0].extra = marker),
      () => (payload.alerts[0].labels.severity = marker),
      () => (payload.alerts[0].annotations = marker),
      () => (payload.alerts = marker),
      () => (payload.commonLabels = marker),
    ]);
    place();
    return jsonCase('deep-nesting', withRaw(payload, [nested]));
  },

  'long-string'(rng) {
    const payload = basePayload(rng);
    const text = longString(rng, 10_000, 100_000);
    const place = rng.pick([
      () => (payload.status = text),
      () => (payload.alerts[0].status = text),
      () => (payload.alerts[0].startsAt = text),
      () => (payload.alerts[0].labels[text] = rng.pick([1, null, {}, []])),
      () => (payload.truncatedAlerts = text),
    ]);
    place();
    return jsonCase('long-string', JSON.stringify(payload));
  },

  'invalid-utf8'(rng) {
    const bytes = Buffer.from(
      rng.pick([
        [0xff],
        [0xfe, 0xff],
        [0xc0, 0xaf],
        [0xed, 0xa0, 0x80],
        [0xf8, 0x88, 0x80, 0x80, 0x80],
        [0x80],
        [0xc3],
        Array.from({ length: rng.int(1, 64) }, () => rng.int(0x80, 0xff)),
      ]),
    );
    const text = JSON.stringify(basePayload(rng));
    const body = rng.pick([
      // Inside an enum value: decodes to U+FFFD, which is no status.
      () => spliceBytes(text.replace('"status":"firing"', '"status":"fir@@cut@@ing"'), bytes),
      // Bare, where a value belongs: no JSON at all.
      () => spliceBytes(text.replace('"severity":"', '"severity":@@cut@@"'), bytes),
      () => Buffer.concat([bytes, utf8(text)]),
    ])();
    return jsonCase('invalid-utf8', body);
  },

  'prototype-keys'(rng) {
    const payload = basePayload(rng);
    const alert = payload.alerts[rng.int(0, payload.alerts.length - 1)];
    const pollution = () => rng.pick([{ polluted: 'yes', severity: 'critical' }, { prototype: { polluted: 'yes' } }, ['x'], 'yes', 1]);
    const places = [payload, alert, alert.labels, alert.annotations, payload.groupLabels, payload.commonLabels];
    for (let i = rng.int(1, 4); i > 0; i--) defineOwn(rng.pick(places), rng.pick(PROTO_KEYS), pollution());
    // Always at least one prototype key the schema must refuse: a label or annotation that is no string.
    defineOwn(rng.pick([alert.labels, alert.annotations]), rng.pick(['constructor', 'prototype']), rng.pick([{ prototype: { polluted: 'yes' } }, [], 7, null]));
    return jsonCase('prototype-keys', JSON.stringify(payload));
  },

  'null-bytes'(rng) {
    const payload = basePayload(rng);
    const text = JSON.stringify(payload);
    return jsonCase(
      'null-bytes',
      rng.pick([
        () => text.replace('"firing"', '"firing\\u0000"'),
        () => text.replace('"firing"', '"fir\u0000ing"'),
        () => text.replace(/^\{/, '{\u0000'),
        () => '\u0000'.repeat(rng.int(1, 1000)),
        () => `${text}\u0000`,
        () => {
          defineOwn(payload.alerts[0].labels, '\u0000', rng.pick([0, null, {}]));
          return JSON.stringify(payload);
        },
      ])(),
    );
  },

  'content-type'(rng) {
    const body = JSON.stringify(basePayload(rng));
    const type = rng.pick([
      undefined,
      '',
      'text/plain',
      'text/json',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/jsonx',
      'application/xml',
      'json',
      '*/*',
      'application/ json',
    ]);
    // Not through jsonCase: its default would turn `undefined` (no header) back into JSON.
    return { category: 'content-type', body: utf8(body), contentType: type, chunked: false };
  },
};

export const CATEGORIES = Object.keys(GENERATORS);

/** The `index`-th hostile case of a run: always broken, whatever the draw. */
export function hostileCase(seed: number, index: number, limit: number): FuzzCase {
  const rng = caseRng(seed, index);
  return GENERATORS[CATEGORIES[index % CATEGORIES.length]!]!(rng, limit);
}

/** Labels with unicode that stays valid: emoji, right-to-left, zero-width, combining marks. */
function withUnicode(payload: Json): Json {
  payload.alerts[0].labels.team = '🔥 فريق‮evil‬ ze\u200bro e\u0301';
  return payload;
}

/**
 * A webhook that is valid, however odd: prototype-looking label names, unicode, NUL characters,
 * a lone surrogate, invalid UTF-8 in a label value (read as U+FFFD), a long annotation, unknown
 * fields. `marker` is in its `instance` label, so its Slack message can be found.
 */
export function validCase(seed: number, index: number, marker: string): FuzzCase {
  const rng = caseRng(seed, -1 - index);
  // No SLO: each valid webhook is an incident of its own, so it makes a Slack message of its own.
  const payload = burnRatePayload({ slo: null, seed: marker, severity: 'warning' });
  const alert = payload.alerts[0];
  // info matches no route of the shipped routing: it goes to the default receiver, ops-slack alone.
  alert.labels.severity = 'info';
  alert.labels.instance = marker;
  for (const key of [...PROTO_KEYS, 'toString', 'hasOwnProperty', 'valueOf']) {
    if (rng.chance(0.5)) defineOwn(alert.labels, key, `label-${key}`);
  }
  if (rng.chance(0.5)) defineOwn(payload, '__proto__', { alerts: [], polluted: 'yes' });
  withUnicode(payload);
  alert.annotations.description = rng.pick(['nul\u0000byte', 'lone \ud800 surrogate', 'reversed \udc00 surrogate', longString(rng, 1_000, 20_000)]);
  alert.annotations.summary = rng.pick(['plain', 'lone surrogate \ud83d in the summary', 'nul\u0000 in the summary', '😀'.repeat(100)]);
  payload.extensions = { nested: { three: { levels: [1, 'two', null] } } };
  alert.labels.odd_bytes = RAW_MARKER(0);
  return jsonCase('valid', withRaw(payload, [Buffer.from([0x22, 0x6f, 0xff, 0xfe, 0x6b, 0x22])]));
}
