/** The one record that every stage after the webhook reads. Built by `normalizeAlert`. */
export type Severity = 'critical' | 'warning' | 'info';
export type AlertStatus = 'firing' | 'resolved';

export interface NormalizedAlert {
  // identity
  fingerprint: string;
  status: AlertStatus;
  /** ISO 8601, as Alertmanager sent it. */
  startsAt: string;
  /** ISO 8601; null while firing (Alertmanager sends the zero time "0001-01-01T00:00:00Z"). */
  endsAt: string | null;
  groupKey: string;
  /** The sending Alertmanager's externalURL. */
  externalUrl: string;
  alertname: string;

  severity: Severity;
  /** The raw value the severity was mapped from, or null when the alert had none. */
  severitySource: string | null;

  // SLO figures; null when neither the alert nor the catalog knows them
  slo: string | null;
  service: string | null;
  /** Percent, e.g. 99.5. */
  objective: number | null;
  /** Prometheus duration string as configured, e.g. "30d". */
  period: string | null;
  periodSeconds: number | null;
  longWindow: string | null;
  shortWindow: string | null;
  burnRateThreshold: number | null;
  /** Observed burn rate (annotation `burn_rate`), falling back to the threshold the rule fired at. */
  burnRate: number | null;
  /** Burn now, over the short window (annotation burn_rate_short). */
  burnRateShort: number | null;
  /** Burn over the long window (annotation burn_rate_long). */
  burnRateLong: number | null;
  /** Fraction of the SLO period's error budget left (annotation error_budget_remaining); may be negative. */
  budgetRemaining: number | null;
  /** 'threshold' when the alert carries no observed figures: they are the rule's, of a full budget. */
  figuresSource: 'observed' | 'threshold';
  /** Fraction (0..1+) of the whole error budget consumed within the long window: burnRate x window / period. */
  budgetConsumed: number | null;
  /** Seconds until a full budget is exhausted at this burn rate: period / burnRate. */
  timeToExhaustionSeconds: number | null;
  sloDescription: string | null;

  // text
  summary: string | null;
  description: string | null;
  runbookUrl: string | null;
  dashboardUrl: string | null;
  generatorUrl: string | null;

  labels: Record<string, string>;
  annotations: Record<string, string>;
}
