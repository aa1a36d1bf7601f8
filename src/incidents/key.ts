import { createHash } from 'node:crypto';
import { routingLabels } from '../alerts/normalize.js';
import type { NormalizedAlert } from '../alerts/types.js';

/** The burn tiers of one SLO share an incident; its no-data alert and the budget policy's alerts have their own. */
export const SLO_INCIDENT_LABELS = ['alertname', 'slo', 'service'] as const;

export interface IncidentKey {
  /** A hash of `labels`: one incident at a time per key. */
  key: string;
  labels: Record<string, string>;
}

/**
 * Which incident an alert belongs to (Alertmanager's group_by in spirit): the values of the route's
 * `incident_by` labels, or by default alertname, slo and service for an alert that carries an SLO
 * after normalization, and the alert's fingerprint for any other. A missing label is the empty string.
 */
export function incidentKeyOf(alert: NormalizedAlert, incidentBy: readonly string[] | null): IncidentKey {
  const names = incidentBy ?? (alert.slo === null ? null : SLO_INCIDENT_LABELS);
  const labels: Record<string, string> = {};
  if (names === null) {
    labels.fingerprint = alert.fingerprint;
  } else {
    const routed = routingLabels(alert);
    for (const name of names) labels[name] = routed[name] ?? '';
  }
  return { key: hashOf(JSON.stringify(Object.entries(labels))), labels };
}

/** Keys hashed so far, by their labels: a storm keys a few incidents over and over, and the hash was most of the cost. */
const hashes = new Map<string, string>();
const HASHES_REMEMBERED = 10_000;

function hashOf(labels: string): string {
  let key = hashes.get(labels);
  if (key === undefined) {
    key = createHash('sha256').update(labels).digest('hex').slice(0, 24);
    if (hashes.size >= HASHES_REMEMBERED) hashes.clear();
    hashes.set(labels, key);
  }
  return key;
}
