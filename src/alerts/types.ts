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
  /** The burn rate the tier alerts at (label `burn_rate_threshold`, or Pyrra's `exhaustion`). */
  burnRateThreshold: number | null;
  /**
   * The tier's burn rate as the rule reports it (annotation `burn_rate`: for the shipped rules the
   * long window's, the rule's $value, which sits just above the threshold when the tier fires), falling
   * back to the threshold the rule fired at. Kept as it always was; the burn now is `burnRateShort`.
   */
  burnRate: number | null;
  /**
   * Burn rate now: error ratio over the tier's short window / error budget (annotation `burn_rate_short`,
   * see `shortWindow`). Null when the alert does not carry it or it is not a finite number >= 0.
   */
  burnRateShort: number | null;
  /**
   * Burn rate over the tier's long window (annotation `burn_rate_long`, see `longWindow`). Null when
   * the alert does not carry it or it is not a finite number >= 0; `burnRate` still holds the old figure.
   */
  burnRateLong: number | null;
  /**
   * Fraction of the SLO period's error budget left when the rule was evaluated (annotation
   * `error_budget_remaining`, from slo:error_budget_remaining:ratio): 1 untouched, 0 spent, below 0
   * overspent. Null when the alert does not carry it or it is not a finite number.
   */
  budgetRemaining: number | null;
  /**
   * Where the burn and exhaustion figures come from:
   * - 'observed': the alert carries at least one of burn_rate_short, burn_rate_long,
   *   error_budget_remaining as a number (the shipped rules read them from the recording rules);
   * - 'threshold': it carries none, and the figures are the fallback: `burnRate` is the rule's
   *   $value or its threshold, and `timeToExhaustionSeconds` assumes a full budget.
   */
  figuresSource: 'observed' | 'threshold';
  /** Fraction (0..1+) of the whole error budget consumed within the long window: burnRate x window / period. */
  budgetConsumed: number | null;
  /**
   * Seconds until the budget is spent at the burn now (burnRateShort, else burnRateLong, else burnRate):
   * - budgetRemaining known: budgetRemaining x period / burn now; 0 when the budget is already spent;
   *   null when nothing burns (burn now 0), or no burn or no period is known;
   * - budgetRemaining unknown: period / burn now, i.e. "of a full budget" (Pyrra's `exhaustion` label
   *   when the alert gives no burn rate at all).
   */
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
