import { createHash } from 'node:crypto';
import type { Notification } from '../types.js';

/**
 * One receiver's view of one firing episode of one alert: (receiver, fingerprint, startsAt).
 * The stored Slack ts and the email Message-ID hang on it, so firing and resolved meet again.
 */
export function episodeId(notification: Notification): string {
  const { receiver, alert } = notification;
  return createHash('sha256').update(JSON.stringify([receiver, alert.fingerprint, alert.startsAt])).digest('hex').slice(0, 32);
}
