import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signed webhooks from Slack and PagerDuty, checked with every configured secret (two during a
 * rotation), in constant time: every candidate is compared whatever matched before, and a
 * signature of the wrong length fails without a comparison that would leak where it differs.
 */

/** Why a signed request was refused: a label of alertcenter_webhook_rejections_total and the 401's code. */
export type SignatureFailure = 'not_configured' | 'missing_signature' | 'bad_signature' | 'stale_timestamp';

export type SignatureCheck = { ok: true } | { ok: false; reason: SignatureFailure; message: string };

/** Slack refuses nothing older, and neither does the router: a captured request replays for at most this long. */
export const SLACK_TIMESTAMP_TOLERANCE_S = 5 * 60;

const refused = (reason: SignatureFailure, message: string): SignatureCheck => ({ ok: false, reason, message });

/** `v0=` + HMAC-SHA256 hex of `v0:<timestamp>:<body>`: how Slack signs its requests. */
export function slackSignature(secret: string, timestamp: string, body: Buffer | string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:`).update(body).digest('hex')}`;
}

/**
 * Slack's v0 signature: `X-Slack-Signature` against HMAC-SHA256 of `v0:<X-Slack-Request-Timestamp>:<raw body>`
 * with any of `secrets`; the timestamp at most 5 minutes from `now` (ms).
 */
export function verifySlackSignature(
  secrets: readonly string[],
  headers: { timestamp: string | undefined; signature: string | undefined },
  body: Buffer,
  now: number,
): SignatureCheck {
  if (secrets.length === 0) return refused('not_configured', 'SLACK_SIGNING_SECRETS is not set: the router cannot verify requests from Slack');
  const { timestamp, signature } = headers;
  if (!timestamp || !signature) return refused('missing_signature', 'missing X-Slack-Signature or X-Slack-Request-Timestamp');
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(now / 1000 - Number(timestamp)) > SLACK_TIMESTAMP_TOLERANCE_S) {
    return refused('stale_timestamp', 'X-Slack-Request-Timestamp is more than 5 minutes away from the time here');
  }
  const matched = anyMatches(
    secrets.map((secret) => slackSignature(secret, timestamp, body)),
    [signature],
  );
  return matched ? { ok: true } : refused('bad_signature', 'X-Slack-Signature does not match the request');
}

/** `v1=` + HMAC-SHA256 hex of the raw body: how PagerDuty signs Webhooks v3. */
export function pagerDutySignature(secret: string, body: Buffer | string): string {
  return `v1=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * PagerDuty's Webhooks v3 signature: `X-PagerDuty-Signature` holds one or more comma-separated
 * `v1=<hex>` values (several while PagerDuty rotates its secret); any of them matching HMAC-SHA256
 * of the raw body with any of `secrets` passes.
 */
export function verifyPagerDutySignature(secrets: readonly string[], header: string | undefined, body: Buffer): SignatureCheck {
  if (secrets.length === 0) return refused('not_configured', 'PAGERDUTY_WEBHOOK_SECRETS is not set: the router cannot verify requests from PagerDuty');
  const presented = (header ?? '')
    .split(',')
    .map((value) => value.trim())
    .filter((value) => value.startsWith('v1='));
  if (presented.length === 0) return refused('missing_signature', 'missing X-PagerDuty-Signature (v1=...)');
  const matched = anyMatches(
    secrets.map((secret) => pagerDutySignature(secret, body)),
    presented.slice(0, 10),
  );
  return matched ? { ok: true } : refused('bad_signature', 'X-PagerDuty-Signature does not match the request');
}

/** Whether any presented value equals any expected one; every pair is compared. */
function anyMatches(expected: readonly string[], presented: readonly string[]): boolean {
  let matched = false;
  for (const candidate of expected) {
    const want = Buffer.from(candidate);
    for (const value of presented) {
      const got = Buffer.from(value);
      // Same length first: timingSafeEqual throws otherwise. The length is public (v0= + 64 hex digits).
      matched = (got.length === want.length && timingSafeEqual(got, want)) || matched;
    }
  }
  return matched;
}
