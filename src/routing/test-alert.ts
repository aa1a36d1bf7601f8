import { type NormalizeOptions, normalizeAlert, routingLabels } from '../alerts/normalize.js';
import { labelsFingerprint } from '../alerts/schema.js';

/** Go's zero time: what Alertmanager sends as endsAt while an alert fires. */
const STILL_FIRING = '0001-01-01T00:00:00Z';

/**
 * The labels routes see for a firing alert carrying `labels`, normalized exactly as the pipeline
 * does (severity mapping, slo and service from the alert or the SLO catalog). For "what would
 * happen to this alert" tools: the CLI's `routing test` and POST /api/v1/routing/test.
 */
export function routingLabelsOfTestAlert(labels: Record<string, string>, at: Date, options: NormalizeOptions): Record<string, string> {
  const alert = normalizeAlert(
    {
      status: 'firing',
      labels,
      annotations: {},
      startsAt: at.toISOString(),
      endsAt: STILL_FIRING,
      generatorURL: '',
      fingerprint: labelsFingerprint(labels),
    },
    { groupKey: '', externalUrl: '' },
    options,
  );
  return routingLabels(alert);
}
