import { z } from 'zod';
import { formatPath } from './slo-catalog.js';

/**
 * Alertmanager's webhook payload, version "4", and Grafana alerting's superset of it (version "1").
 *
 * Required is what every real sender always sends and what the pipeline reads; everything else is
 * typed when present. Unknown fields are kept at every level (looseObject): Alertmanager 0.32+ adds
 * `notification_reason`, 0.34+ `routeLabels`, Grafana `orgId`, `title`, `state`, `message`, `values`
 * (null when empty), `valueString`, `silenceURL`, `imageURL`, `ruleUID`... A 4xx is final for
 * Alertmanager (no retry), so rejecting a payload for a field we do not need would lose the alert.
 */

/** A group this large is no longer a burn-rate page; the body limit bounds the rest. */
export const MAX_ALERTS_PER_PAYLOAD = 1000;

/**
 * Label and annotation maps. An object with a string catchall validates and copies like
 * z.record(z.string(), z.string()) at half its cost (the webhook's hot path), and zod drops
 * `__proto__` keys from it as from loose objects, so label names cannot reach a prototype.
 */
const stringRecord = z.object({}).catchall(z.string());
const timestamp = z.iso.datetime({ offset: true });

const alertSchema = z.looseObject({
  status: z.enum(['firing', 'resolved']),
  labels: stringRecord,
  annotations: stringRecord.optional(),
  startsAt: timestamp,
  endsAt: timestamp.optional(),
  generatorURL: z.string().optional(),
  fingerprint: z.string().optional(),
  // Grafana alerting: links it builds from the rule's dashboard and panel annotations ("" when none).
  dashboardURL: z.string().optional(),
  panelURL: z.string().optional(),
});

export const webhookPayloadSchema = z.looseObject({
  version: z.string(),
  groupKey: z.string(),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string().optional(),
  alerts: z.array(alertSchema).max(MAX_ALERTS_PER_PAYLOAD),
  groupLabels: stringRecord.optional(),
  commonLabels: stringRecord.optional(),
  commonAnnotations: stringRecord.optional(),
  externalURL: z.string(),
  truncatedAlerts: z.int().min(0).optional(),
  // Alertmanager 0.32+: why the group was sent ("first notification", "repeat interval elapsed", ...).
  notification_reason: z.string().optional(),
});

type ParsedPayload = z.output<typeof webhookPayloadSchema>;
/** An alert after parsing: `fingerprint` is always set (see `labelsFingerprint`). */
export type WebhookAlert = z.output<typeof alertSchema> & { fingerprint: string };
export type WebhookPayload = { [K in keyof ParsedPayload]: K extends 'alerts' ? WebhookAlert[] : ParsedPayload[K] };

export type ParseResult = { ok: true; payload: WebhookPayload } | { ok: false; message: string };

/** The first problem, as `alerts[3].labels: expected object`. */
export function parseWebhookPayload(body: unknown): ParseResult {
  const result = webhookPayloadSchema.safeParse(body, { error: plainMessage });
  if (!result.success) {
    const issue = result.error.issues[0]!;
    return { ok: false, message: `${formatPath(issue.path)}: ${issue.message}` };
  }
  // zod built these objects for us, so filling the gap in place copies nothing.
  for (const alert of result.data.alerts) {
    if (!alert.fingerprint) alert.fingerprint = labelsFingerprint(alert.labels);
  }
  return { ok: true, payload: result.data as WebhookPayload };
}

const TYPE_NAMES: Record<string, string> = { int: 'integer' };

function plainMessage(issue: z.core.$ZodRawIssue): string {
  if (issue.input === undefined) return 'required';
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}`;
    case 'invalid_value':
      return `expected one of ${issue.values.join('|')}`;
    case 'invalid_format':
      return 'expected an RFC 3339 timestamp';
    case 'too_big':
      return `at most ${issue.maximum} items`; // only the alerts array has a maximum
    case 'too_small':
      return `at least ${issue.minimum}`;
    default:
      return 'invalid value';
  }
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const SEPARATOR = 0xff;
const utf8 = new TextEncoder();

/**
 * Alertmanager's own fingerprint (prometheus/common model.LabelSet.Fingerprint): FNV-1a 64 over
 * the label names in byte order, each name and value followed by 0xff, as 16 hex digits. Used for
 * senders that omit it, so the same alert deduplicates alike whoever sent it.
 */
export function labelsFingerprint(labels: Record<string, string>): string {
  let hash = FNV_OFFSET;
  const add = (byte: number) => {
    hash = BigInt.asUintN(64, (hash ^ BigInt(byte)) * FNV_PRIME);
  };
  // UTF-16 order is Go's byte order for every name outside the astral planes.
  for (const name of Object.keys(labels).sort()) {
    for (const text of [name, labels[name]!]) {
      for (const byte of utf8.encode(text)) add(byte);
      add(SEPARATOR);
    }
  }
  return hash.toString(16).padStart(16, '0');
}
