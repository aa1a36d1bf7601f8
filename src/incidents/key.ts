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
  const key = createHash('sha256')
    .update(JSON.stringify(Object.entries(labels)))
    .digest('hex')
    .slice(0, 24);
  return { key, labels };
}
