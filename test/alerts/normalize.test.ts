import { describe, expect, it } from 'vitest';
import { type NormalizeOptions, normalizeAlert, normalizePayload, routingLabels } from '../../src/alerts/normalize.js';
import { parseWebhookPayload, type WebhookAlert, type WebhookPayload } from '../../src/alerts/schema.js';
import type { NormalizedAlert, Severity } from '../../src/alerts/types.js';
import { catalog, type PayloadFixture, payloadFixture } from './fixtures.js';

const DAY = 86_400;
const CONTEXT = { groupKey: '{}:{alertname="A"}', externalUrl: 'http://alertmanager.maestro.example:9093' };
const CATALOG_LINKS = {
  apiLatency: {
    dashboardUrl: 'https://grafana.maestro.example/d/maestro-slo?var-slo=api-latency',
    runbookUrl: 'https://runbooks.maestro.example/slo-api-latency',
  },
  databaseAvailability: {
    dashboardUrl: 'https://grafana.maestro.example/d/maestro-slo?var-slo=database-availability',
    runbookUrl: 'https://runbooks.maestro.example/slo-database-availability',
  },
  runSuccess: {
    dashboardUrl: 'https://grafana.maestro.example/d/maestro-slo?var-slo=run-success',
    runbookUrl: 'https://runbooks.maestro.example/slo-run-success',
  },
};

function options(overrides: Partial<NormalizeOptions> = {}): NormalizeOptions {
  return { catalog, defaultSeverity: 'warning', ...overrides };
}

function parsedFixture(name: PayloadFixture): WebhookPayload {
  const result = parseWebhookPayload(payloadFixture(name));
  if (!result.ok) throw new Error(result.message);
  return result.payload;
}

function alertWith(labels: Record<string, string>, annotations: Record<string, string> = {}): WebhookAlert {
  return {
    status: 'firing',
    labels: { alertname: 'MaestroSLOErrorBudgetBurn', ...labels },
    annotations,
    startsAt: '2026-11-27T18:00:00Z',
    endsAt: '0001-01-01T00:00:00Z',
    fingerprint: '0123456789abcdef',
  };
}

function normalize(labels: Record<string, string>, annotations?: Record<string, string>): NormalizedAlert {
  return normalizeAlert(alertWith(labels, annotations), CONTEXT, options());
}

/** Floating-point figures compared to 9 significant digits; the rest exactly. */
function expectFigures(actual: NormalizedAlert, expected: Partial<NormalizedAlert>): void {
  for (const [field, value] of Object.entries(expected)) {
    const got = actual[field as keyof NormalizedAlert];
    if (typeof value === 'number' && typeof got === 'number') expect(got, field).toBeCloseTo(value, 9);
    else expect(got, field).toEqual(value);
  }
}

describe('normalizePayload over real payload shapes', () => {
  const cases: Array<[PayloadFixture, number, Partial<NormalizedAlert>]> = [
    [
      'alertmanager-0.25/critical-firing',
      0,
      {
        fingerprint: '2152ae6e8747a803',
        status: 'firing',
        startsAt: '2026-11-27T18:02:50.23213853Z',
        endsAt: null,
        groupKey: '{}:{alertname="MaestroSLOErrorBudgetBurn", severity="critical", slo="api-latency"}',
        externalUrl: 'http://alertmanager.maestro.example:9093',
        alertname: 'MaestroSLOErrorBudgetBurn',
        severity: 'critical',
        severitySource: 'critical',
        slo: 'api-latency',
        service: 'maestro-api',
        objective: 99.5,
        period: '30d',
        periodSeconds: 30 * DAY,
        longWindow: '1h',
        shortWindow: '5m',
        burnRateThreshold: 14.4,
        burnRate: 15.3,
        // Rules from before the figures' annotations: a full budget at the rule's $value.
        burnRateShort: null,
        burnRateLong: null,
        budgetRemaining: null,
        figuresSource: 'threshold',
        budgetConsumed: (15.3 * 3600) / (30 * DAY),
        timeToExhaustionSeconds: (30 * DAY) / 15.3,
        sloDescription: '99.5% of API requests complete within 200 ms',
        summary: 'api-latency SLO: error budget burning at 15.3x (99.5% < 200ms, 30d)',
        description: null,
        ...CATALOG_LINKS.apiLatency,
        generatorUrl: 'http://prometheus.maestro.example:9090/graph?g0.expr=slo%3Asli_error%3Aratio_rate1h',
      },
    ],
    [
      // The label's service wins over the catalog's maestro-runs; the links come from the catalog.
      'alertmanager-0.25/warning-firing',
      0,
      {
        severity: 'warning',
        slo: 'run-success',
        service: 'maestro-runner',
        objective: 99,
        period: '7d',
        periodSeconds: 7 * DAY,
        longWindow: '6h',
        shortWindow: '30m',
        burnRateThreshold: 1.4,
        burnRate: 1.9,
        budgetConsumed: (1.9 * 6 * 3600) / (7 * DAY),
        timeToExhaustionSeconds: (7 * DAY) / 1.9,
        ...CATALOG_LINKS.runSuccess,
      },
    ],
    ['alertmanager-0.25/group-two-alerts', 0, { fingerprint: 'd9e62b8cdf80287e', status: 'firing', longWindow: '6h', burnRate: 12.8 }],
    ['alertmanager-0.25/group-two-alerts', 1, { fingerprint: '2152ae6e8747a803', status: 'firing', longWindow: '1h', burnRate: 15.3 }],
    [
      // The shipped rules' figures: 16.67x over 1h (just past the 14.4x threshold) but 40x now, 31.74% of
      // the budget left: 0.3174 x 30d / 40 = 5.7h to exhaustion, not the 43h of a full budget at 16.67x.
      'alertmanager-0.25/figures-critical-firing',
      0,
      {
        groupKey: '{}/{severity="critical",slo!=""}:{alertname="MaestroSLOErrorBudgetBurn", service="maestro-db", slo="database-availability"}',
        status: 'firing',
        severity: 'critical',
        slo: 'database-availability',
        service: 'maestro-db',
        periodSeconds: 30 * DAY,
        longWindow: '1h',
        shortWindow: '5m',
        burnRateThreshold: 14.4,
        burnRate: 16.67,
        burnRateShort: 40,
        burnRateLong: 16.67,
        budgetRemaining: 0.3174,
        figuresSource: 'observed',
        budgetConsumed: (16.67 * 3600) / (30 * DAY),
        timeToExhaustionSeconds: (0.3174 * 30 * DAY) / 40,
        summary: 'database-availability is burning its 30d error budget at 16.7x over 1h (threshold 14.4x)',
        ...CATALOG_LINKS.databaseAvailability,
      },
    ],
    [
      // Alertmanager resolves with the annotations of the last evaluation that fired.
      'alertmanager-0.25/figures-critical-resolved',
      0,
      {
        status: 'resolved',
        endsAt: '2026-12-07T14:26:12.227Z',
        burnRateShort: 40,
        burnRateLong: 16.67,
        budgetRemaining: 0.3174,
        figuresSource: 'observed',
        timeToExhaustionSeconds: (0.3174 * 30 * DAY) / 40,
      },
    ],
    [
      // No requests in the short window (0/0: the template prints NaN) and no budget figure yet (the query found
      // nothing: empty): the long window's burn stands in, over a full budget.
      'alertmanager-0.25/figures-missing',
      0,
      {
        severity: 'warning',
        slo: 'api-latency',
        burnRate: 6.13,
        burnRateShort: null,
        burnRateLong: 6.13,
        budgetRemaining: null,
        figuresSource: 'observed',
        timeToExhaustionSeconds: (30 * DAY) / 6.13,
      },
    ],
    // A resolved alert inside a payload whose top-level status is firing.
    ['alertmanager-0.25/group-one-resolved', 0, { status: 'firing', endsAt: null, dashboardUrl: CATALOG_LINKS.apiLatency.dashboardUrl }],
    ['alertmanager-0.25/group-one-resolved', 1, { status: 'resolved', endsAt: '2026-11-27T18:02:56Z', fingerprint: '2152ae6e8747a803' }],
    [
      'alertmanager-0.32/some-alerts-resolved',
      0,
      {
        status: 'firing',
        slo: 'database-availability',
        service: 'maestro-db',
        objective: 99.9,
        burnRate: 6,
        budgetConsumed: 0.05,
        timeToExhaustionSeconds: 5 * DAY,
        ...CATALOG_LINKS.databaseAvailability,
      },
    ],
    ['alertmanager-0.32/some-alerts-resolved', 1, { status: 'resolved', endsAt: '2026-12-01T09:20:48.5Z', burnRate: 14.9 }],
    [
      'alertmanager-0.34/route-labels',
      0,
      {
        groupKey: '{}/{team="platform"}:{alertname="MaestroSLOErrorBudgetBurn", severity="critical", slo="api-latency"}',
        severity: 'critical',
        budgetConsumed: 0.05,
        timeToExhaustionSeconds: 5 * DAY,
      },
    ],
    [
      // Grafana: capitalised severity, no SLO labels beyond slo, its panel link, its own URLs and offsets.
      'grafana/slo-alerts',
      0,
      {
        fingerprint: '9d1c0e5b2f7a4e83',
        startsAt: '2026-12-03T10:21:40+01:00',
        endsAt: null,
        externalUrl: 'https://grafana.maestro.example/',
        alertname: 'Maestro run success burn rate',
        severity: 'warning',
        severitySource: 'Warning',
        slo: 'run-success',
        service: 'maestro-runs',
        objective: 99,
        period: '7d',
        longWindow: null,
        burnRate: null,
        budgetConsumed: null,
        timeToExhaustionSeconds: null,
        sloDescription: '99.0% of Maestro runs succeed',
        summary: 'run-success SLO: error budget burning at 2.3x',
        description: 'Maestro runs are failing 2.3 times faster than the 7-day error budget allows.',
        runbookUrl: CATALOG_LINKS.runSuccess.runbookUrl,
        dashboardUrl: 'https://grafana.maestro.example/d/maestro-slo?from=1764750100000&orgId=1&to=1764757300000&viewPanel=4',
        generatorUrl: 'https://grafana.maestro.example/alerting/grafana/ce3x9k2l1mfb4a/view?orgId=1',
      },
    ],
    [
      'grafana/slo-alerts',
      1,
      {
        status: 'resolved',
        endsAt: '2026-12-03T09:47:10+01:00',
        severity: 'warning',
        severitySource: null,
        slo: 'database-availability',
        dashboardUrl: CATALOG_LINKS.databaseAvailability.dashboardUrl,
      },
    ],
    [
      // Sloth: team-specific `severity`, the real one in sloth_severity; SLO figures from the catalog.
      'sloth/page-and-ticket',
      0,
      {
        severity: 'critical',
        severitySource: 'page',
        slo: 'api-latency',
        service: 'maestro-api',
        objective: 99.5,
        period: '30d',
        longWindow: null,
        shortWindow: '5m',
        burnRateThreshold: null,
        burnRate: null,
        budgetConsumed: null,
        summary: "High latency on 'maestro-api' requests",
        ...CATALOG_LINKS.apiLatency,
      },
    ],
    ['sloth/page-and-ticket', 1, { severity: 'warning', severitySource: 'ticket', shortWindow: null, slo: 'api-latency' }],
    [
      // Pyrra on a 30d SLO: exhaustion 30d/14 gives the threshold back.
      'pyrra/error-budget-burn',
      0,
      {
        severity: 'critical',
        slo: 'api-latency',
        service: 'maestro-api',
        objective: 99.5,
        periodSeconds: 30 * DAY,
        longWindow: '1h4m',
        shortWindow: '5m',
        burnRateThreshold: 14,
        burnRate: 14,
        budgetConsumed: (14 * 3840) / (30 * DAY),
        timeToExhaustionSeconds: (30 * DAY) / 14,
        dashboardUrl: 'http://pyrra.maestro.example:9099/objectives?expr=%7B__name__%3D%22api-latency%22%7D&from=now-1h&to=now',
        runbookUrl: CATALOG_LINKS.apiLatency.runbookUrl,
      },
    ],
    [
      // Pyrra on an SLO the catalog does not know: only the exhaustion label is left.
      'pyrra/error-budget-burn',
      1,
      {
        slo: 'runner-queue-latency',
        service: null,
        objective: null,
        period: null,
        longWindow: '6h',
        shortWindow: '30m',
        burnRateThreshold: null,
        burnRate: null,
        budgetConsumed: null,
        timeToExhaustionSeconds: 4 * DAY,
        sloDescription: null,
        runbookUrl: null,
      },
    ],
  ];

  it.each(cases)('%s alerts[%i]', (name, index, expected) => {
    const alerts = normalizePayload(parsedFixture(name), options());
    expectFigures(alerts[index]!, expected);
  });

  it.each(cases.map(([name]) => name).filter((name, i, names) => names.indexOf(name) === i))(
    '%s: one record per alert, each with the payload’s group key and labels',
    (name) => {
      const payload = parsedFixture(name);
      const alerts = normalizePayload(payload, options());
      expect(alerts.map((alert) => [alert.groupKey, alert.fingerprint, alert.labels])).toEqual(
        payload.alerts.map((alert) => [payload.groupKey, alert.fingerprint, alert.labels]),
      );
    },
  );

  it('does not modify the payload it reads', () => {
    const payload = parsedFixture('sloth/page-and-ticket');
    const before = structuredClone(payload);
    normalizePayload(payload, options());
    expect(payload).toEqual(before);
  });
});

describe('severity', () => {
  const cases: Array<[Record<string, string>, Severity, string | null, Array<string | null>]> = [
    [{ severity: 'critical' }, 'critical', 'critical', []],
    [{ severity: 'CRITICAL' }, 'critical', 'CRITICAL', []],
    [{ severity: 'crit' }, 'critical', 'crit', []],
    [{ severity: 'page' }, 'critical', 'page', []],
    [{ severity: 'error' }, 'critical', 'error', []],
    [{ severity: ' Warning ' }, 'warning', ' Warning ', []],
    [{ severity: 'warn' }, 'warning', 'warn', []],
    [{ severity: 'ticket' }, 'warning', 'ticket', []],
    [{ severity: 'info' }, 'info', 'info', []],
    [{ severity: 'informational' }, 'info', 'informational', []],
    [{ severity: 'none' }, 'info', 'none', []],
    [{ sloth_severity: 'page' }, 'critical', 'page', []],
    [{ sloth_severity: 'ticket' }, 'warning', 'ticket', []],
    [{ severity: 'pageteam', sloth_severity: 'page' }, 'critical', 'page', []],
    [{ severity: 'warning', sloth_severity: 'page' }, 'warning', 'warning', []],
    [{}, 'warning', null, [null]],
    [{ severity: '' }, 'warning', null, [null]],
    [{ severity: 'sev1' }, 'warning', 'sev1', ['sev1']],
    [{ severity: 'constructor' }, 'warning', 'constructor', ['constructor']],
    [{ severity: 'pageteam', sloth_severity: 'urgent' }, 'warning', 'pageteam', ['pageteam']],
    [{ sloth_severity: 'urgent' }, 'warning', 'urgent', ['urgent']],
  ];

  it.each(cases)('%j -> %s (source %j), unknown reported %j', (labels, severity, source, reported) => {
    const unknown: Array<string | null> = [];
    const alert = normalizeAlert(alertWith(labels), CONTEXT, options({ onUnknownSeverity: (raw) => unknown.push(raw) }));
    expect([alert.severity, alert.severitySource, unknown]).toEqual([severity, source, reported]);
  });

  it('falls back to the configured default', () => {
    expect(normalizeAlert(alertWith({}), CONTEXT, options({ defaultSeverity: 'critical' })).severity).toBe('critical');
    expect(normalizeAlert(alertWith({ severity: 'p2' }), CONTEXT, options({ defaultSeverity: 'info' })).severity).toBe('info');
  });

  it('works without the metric hook', () => {
    expect(normalize({ severity: 'bogus' }).severity).toBe('warning');
  });
});

describe('burn-rate figures', () => {
  const cases: Array<[string, Record<string, string>, Record<string, string>, Partial<NormalizedAlert>]> = [
    [
      '30d period, 6h window, burn rate 6: 5% of the budget, exhausted in 5 days',
      { slo_period: '30d', long_window: '6h' },
      { burn_rate: '6' },
      { budgetConsumed: 0.05, timeToExhaustionSeconds: 5 * DAY, burnRateThreshold: null },
    ],
    [
      '7d period, 1.4x over 6h (the threshold, nothing observed): 5%',
      { slo_period: '7d', long_window: '6h', burn_rate_threshold: '1.4' },
      {},
      { burnRate: 1.4, budgetConsumed: 0.05, timeToExhaustionSeconds: 5 * DAY },
    ],
    [
      '30d period, 14.4x over 1h: 2%, exhausted in 50 hours',
      { slo_period: '30d', long_window: '1h', burn_rate_threshold: '14.4' },
      {},
      { budgetConsumed: 0.02, timeToExhaustionSeconds: 50 * 3600 },
    ],
    [
      'the observed burn rate wins over the threshold',
      { slo_period: '30d', long_window: '6h', burn_rate_threshold: '6' },
      { burn_rate: '12' },
      { burnRateThreshold: 6, burnRate: 12, budgetConsumed: 0.1, timeToExhaustionSeconds: 2.5 * DAY },
    ],
    [
      'a zero burn rate consumes nothing and never exhausts',
      { slo_period: '30d', long_window: '6h', burn_rate_threshold: '6' },
      { burn_rate: '0' },
      { burnRate: 0, budgetConsumed: 0, timeToExhaustionSeconds: null },
    ],
    [
      'the period comes from the catalog when the alert has none',
      { slo: 'api-latency', long_window: '6h' },
      { burn_rate: '6' },
      { period: '30d', periodSeconds: 30 * DAY, budgetConsumed: 0.05 },
    ],
    [
      'the alert’s period wins over the catalog’s',
      { slo: 'api-latency', slo_period: '7d', long_window: '6h' },
      { burn_rate: '1.4' },
      { period: '7d', budgetConsumed: 0.05 },
    ],
    [
      'no window: no budget figure, but the time to exhaustion',
      { slo_period: '30d' },
      { burn_rate: '6' },
      { longWindow: null, budgetConsumed: null, timeToExhaustionSeconds: 5 * DAY },
    ],
    ['no period: neither figure', { long_window: '6h' }, { burn_rate: '6' }, { periodSeconds: null, budgetConsumed: null, timeToExhaustionSeconds: null }],
    [
      'Pyrra with a known period: threshold = period / exhaustion',
      { slo_period: '28d', long: '1h', short: '5m', exhaustion: '2d' },
      {},
      { longWindow: '1h', shortWindow: '5m', burnRateThreshold: 14, budgetConsumed: 0.5 / 24, timeToExhaustionSeconds: 2 * DAY },
    ],
    [
      'Pyrra with an observed burn rate but no period: the at-threshold exhaustion no longer applies',
      { long: '1h', exhaustion: '2d' },
      { burn_rate: '20' },
      { burnRate: 20, timeToExhaustionSeconds: null },
    ],
  ];

  it.each(cases)('%s', (_, labels, annotations, expected) => {
    expectFigures(normalize(labels, annotations), expected);
  });
});

describe('observed figures: burn now, burn over the long window, budget left', () => {
  const tier = { slo: 'api-latency', slo_period: '30d', long_window: '1h', short_window: '5m', burn_rate_threshold: '14.4' };
  const cases: Array<[string, Record<string, string>, Record<string, string>, Partial<NormalizedAlert>]> = [
    [
      'all three: the time to exhaustion is what is left at the burn now',
      tier,
      { burn_rate: '14.52', burn_rate_short: '94.00', burn_rate_long: '14.52', error_budget_remaining: '0.5' },
      {
        burnRate: 14.52,
        burnRateShort: 94,
        burnRateLong: 14.52,
        budgetRemaining: 0.5,
        figuresSource: 'observed',
        // The figures of the issue: 0.5 x 30d / 94 = 3.8h, where a full budget at 14.52x says 2d 1h.
        timeToExhaustionSeconds: (0.5 * 30 * DAY) / 94,
        budgetConsumed: (14.52 * 3600) / (30 * DAY),
      },
    ],
    [
      'no short-window burn: the long window is the burn now',
      tier,
      { burn_rate: '20', burn_rate_long: '20', error_budget_remaining: '0.25' },
      { burnRateShort: null, burnRateLong: 20, figuresSource: 'observed', timeToExhaustionSeconds: (0.25 * 30 * DAY) / 20 },
    ],
    [
      'only the budget left: burn_rate is the burn now',
      tier,
      { burn_rate: '16', error_budget_remaining: '0.8' },
      { burnRateShort: null, burnRateLong: null, figuresSource: 'observed', timeToExhaustionSeconds: (0.8 * 30 * DAY) / 16 },
    ],
    [
      'only the budget left and no burn_rate: the threshold is the burn now',
      tier,
      { error_budget_remaining: '0.72' },
      { burnRate: 14.4, figuresSource: 'observed', timeToExhaustionSeconds: (0.72 * 30 * DAY) / 14.4 },
    ],
    [
      'no budget figure: the burn now over a full budget',
      tier,
      { burn_rate: '16', burn_rate_short: '32' },
      { budgetRemaining: null, figuresSource: 'observed', timeToExhaustionSeconds: (30 * DAY) / 32 },
    ],
    [
      "none of the three: today's figures, the threshold's, of a full budget",
      tier,
      {},
      { burnRate: 14.4, burnRateShort: null, burnRateLong: null, budgetRemaining: null, figuresSource: 'threshold', timeToExhaustionSeconds: 50 * 3600 },
    ],
    ['a spent budget is exhausted now', tier, { burn_rate_short: '40', error_budget_remaining: '0' }, { budgetRemaining: 0, timeToExhaustionSeconds: 0 }],
    [
      'an overspent budget stays negative, exhausted now',
      tier,
      { burn_rate_short: '40', error_budget_remaining: '-2.3280' },
      { budgetRemaining: -2.328, timeToExhaustionSeconds: 0 },
    ],
    [
      'nothing burning now: the budget left never runs out',
      tier,
      { burn_rate_short: '0.00', burn_rate_long: '15.1', error_budget_remaining: '0.4' },
      { burnRateShort: 0, burnRateLong: 15.1, timeToExhaustionSeconds: null },
    ],
    [
      'no period known: no time to exhaustion',
      { long_window: '1h', short_window: '5m' },
      { burn_rate_short: '40', error_budget_remaining: '0.4' },
      { periodSeconds: null, budgetRemaining: 0.4, timeToExhaustionSeconds: null },
    ],
    [
      'a budget policy alert: the budget left, no burn',
      { alertname: 'MaestroSLOErrorBudgetLow', slo: 'run-success', service: 'maestro-runs', slo_objective: '99', slo_period: '7d', severity: 'warning' },
      { error_budget_remaining: '0.2135' },
      { burnRate: null, burnRateShort: null, budgetRemaining: 0.2135, figuresSource: 'observed', timeToExhaustionSeconds: null, budgetConsumed: null },
    ],
  ];

  it.each(cases)('%s', (_, labels, annotations, expected) => {
    expectFigures(normalize(labels, annotations), expected);
  });
});

describe("garbage in the figures' annotations becomes null, never an exception", () => {
  const tier = { slo_period: '30d', long_window: '1h', burn_rate_threshold: '14.4' };
  // What a template can print (NaN for 0/0, +Inf for x/0, nothing when the query finds no series) and worse.
  const garbage = ['NaN', '+Inf', '-Inf', 'Inf', 'Infinity', '1e400', '', ' ', 'fast', '0x10', '12x', '4,5', '<no value>'];

  it.each(garbage)('%j in every figure: threshold figures, as if absent', (text) => {
    const alert = normalize(tier, { burn_rate_short: text, burn_rate_long: text, error_budget_remaining: text });
    expectFigures(alert, {
      burnRateShort: null,
      burnRateLong: null,
      budgetRemaining: null,
      figuresSource: 'threshold',
      burnRate: 14.4,
      timeToExhaustionSeconds: 50 * 3600,
    });
  });

  it.each(['-3', '-0.01'])('a negative burn (%j) is no burn rate', (text) => {
    const alert = normalize(tier, { burn_rate_short: text, burn_rate_long: text });
    expectFigures(alert, { burnRateShort: null, burnRateLong: null, figuresSource: 'threshold' });
  });

  it('reads plain decimals with spaces around, and a negative budget left', () => {
    const alert = normalize(tier, { burn_rate_short: ' 40.00 ', burn_rate_long: '1.667e1', error_budget_remaining: ' -0.0270' });
    expectFigures(alert, { burnRateShort: 40, burnRateLong: 16.67, budgetRemaining: -0.027, timeToExhaustionSeconds: 0 });
  });

  it('keeps the good figures beside a bad one', () => {
    const alert = normalize(tier, { burn_rate_short: 'NaN', burn_rate_long: '16.67', error_budget_remaining: '0.3174' });
    expectFigures(alert, { burnRateShort: null, burnRateLong: 16.67, timeToExhaustionSeconds: (0.3174 * 30 * DAY) / 16.67 });
  });

  it('ignores figures that are not strings', () => {
    const alert = normalizeAlert(
      { ...alertWith(tier), annotations: { burn_rate_short: 40, error_budget_remaining: null } as unknown as Record<string, string> },
      CONTEXT,
      options(),
    );
    expectFigures(alert, { burnRateShort: null, budgetRemaining: null, figuresSource: 'threshold' });
  });
});

describe('malformed numbers and durations become null, never an exception', () => {
  const cases: Array<[Record<string, string>, Record<string, string>, Partial<NormalizedAlert>]> = [
    [{ burn_rate_threshold: '6' }, { burn_rate: 'fast' }, { burnRate: 6 }],
    [{ burn_rate_threshold: '6' }, { burn_rate: '-2' }, { burnRate: 6 }],
    [{ burn_rate_threshold: '6' }, { burn_rate: '' }, { burnRate: 6 }],
    [{ burn_rate_threshold: 'NaN' }, {}, { burnRateThreshold: null, burnRate: null }],
    [{ burn_rate_threshold: 'Infinity' }, {}, { burnRateThreshold: null }],
    [{ burn_rate_threshold: '0x10' }, {}, { burnRateThreshold: null }],
    [{ burn_rate_threshold: '0' }, {}, { burnRateThreshold: null }],
    [{ burn_rate_threshold: ' 6 ' }, {}, { burnRateThreshold: 6 }],
    [{ burn_rate_threshold: '1e1' }, {}, { burnRateThreshold: 10 }],
    [{ burn_rate_threshold: '1e400' }, {}, { burnRateThreshold: null }],
    [{ slo_period: '30days' }, {}, { period: null, periodSeconds: null }],
    [{ slo_period: '0' }, {}, { period: null }],
    [{ long_window: '-1h' }, {}, { longWindow: null }],
    [{ short_window: '5 minutes' }, {}, { shortWindow: null }],
    [{ exhaustion: 'soon' }, {}, { timeToExhaustionSeconds: null }],
    [{ slo_period: '30d', long_window: 'bogus' }, { burn_rate: '6' }, { budgetConsumed: null, timeToExhaustionSeconds: 5 * DAY }],
  ];

  it.each(cases)('%j %j', (labels, annotations, expected) => {
    expectFigures(normalize(labels, annotations), expected);
  });
});

describe('objective', () => {
  const cases: Array<[string, number | null]> = [
    ['99.5', 99.5],
    ['0.995', 99.5],
    ['99.5%', 99.5],
    ['0.999', 99.9],
    ['0.9990000000000001', 99.9],
    ['99.0', 99],
    ['100', null],
    ['1', null],
    ['0', null],
    ['-5', null],
    ['high', null],
    ['', null],
    ['%', null],
  ];

  it.each(cases)('slo_objective %j -> %j', (text, objective) => {
    expect(normalize({ slo_objective: text }).objective).toBe(objective);
  });

  it('falls back to the catalog when the label is malformed', () => {
    expect(normalize({ slo: 'database-availability', slo_objective: 'high' }).objective).toBe(99.9);
  });
});

describe('catalog enrichment', () => {
  it('fills everything an alert carrying only slo= leaves out', () => {
    const alert = normalize({ slo: 'api-latency' });
    expectFigures(alert, {
      slo: 'api-latency',
      service: 'maestro-api',
      objective: 99.5,
      period: '30d',
      periodSeconds: 30 * DAY,
      sloDescription: '99.5% of API requests complete within 200 ms',
      ...CATALOG_LINKS.apiLatency,
    });
  });

  it('lets the alert’s own labels and annotations win', () => {
    const alert = normalize(
      { slo: 'api-latency', service: 'edge-proxy', slo_objective: '99.9', slo_period: '7d' },
      { runbook_url: 'https://runbooks.example/edge', dashboard_url: 'https://grafana.example/d/edge' },
    );
    expectFigures(alert, {
      service: 'edge-proxy',
      objective: 99.9,
      period: '7d',
      runbookUrl: 'https://runbooks.example/edge',
      dashboardUrl: 'https://grafana.example/d/edge',
      sloDescription: '99.5% of API requests complete within 200 ms',
    });
  });

  it('finds a Sloth SLO by sloth_id when sloth_slo is not a catalog name', () => {
    expectFigures(normalize({ sloth_slo: 'runs', sloth_id: 'run-success' }), { slo: 'runs', objective: 99, period: '7d' });
    expectFigures(normalize({ sloth_id: 'run-success' }), { slo: 'run-success', service: 'maestro-runs' });
  });

  it('leaves an unknown SLO unenriched', () => {
    expectFigures(normalize({ slo: 'checkout-latency' }), {
      slo: 'checkout-latency',
      service: null,
      objective: null,
      period: null,
      sloDescription: null,
      runbookUrl: null,
      dashboardUrl: null,
    });
  });

  it('has no SLO at all for an alert without SLO labels', () => {
    expectFigures(normalize({}), { slo: null, service: null, objective: null, burnRate: null });
  });
});

describe('text fields', () => {
  const cases: Array<[Record<string, string>, Partial<NormalizedAlert>]> = [
    [{ runbook_url: 'https://r/1' }, { runbookUrl: 'https://r/1' }],
    [{ runbookURL: 'https://r/2' }, { runbookUrl: 'https://r/2' }],
    [{ runbookUrl: 'https://r/3' }, { runbookUrl: 'https://r/3' }],
    [{ runbook: 'https://r/4' }, { runbookUrl: 'https://r/4' }],
    [{ runbook_url: 'https://r/1', runbook: 'https://r/4' }, { runbookUrl: 'https://r/1' }],
    [{ runbook_url: 'see the wiki', runbook: 'https://r/4' }, { runbookUrl: 'https://r/4' }],
    [{ runbook_url: 'javascript:alert(1)' }, { runbookUrl: null }],
    [{ dashboard_url: 'https://d/1' }, { dashboardUrl: 'https://d/1' }],
    [{ dashboardURL: 'https://d/2' }, { dashboardUrl: 'https://d/2' }],
    [{ dashboardUrl: 'https://d/3' }, { dashboardUrl: 'https://d/3' }],
    [{ grafana_url: 'https://d/4' }, { dashboardUrl: 'https://d/4' }],
    [{ pyrra_url: 'http://pyrra:9099/objectives' }, { dashboardUrl: 'http://pyrra:9099/objectives' }],
    [{ pyrra_url: 'http://pyrra:9099/objectives', grafana_url: 'https://d/4' }, { dashboardUrl: 'https://d/4' }],
    [{ summary: 'S', title: 'T' }, { summary: 'S' }],
    [{ title: 'T' }, { summary: 'T' }],
    [{ summary: '' }, { summary: null }],
    [{ description: 'D', message: 'M' }, { description: 'D' }],
    [{ message: 'M' }, { description: 'M' }],
  ];

  it.each(cases)('%j', (annotations, expected) => {
    expectFigures(normalize({}, annotations), expected);
  });

  it('uses Grafana’s panel link, then its dashboard link, after the annotations', () => {
    const grafana = (fields: Record<string, string>, annotations: Record<string, string> = {}) =>
      normalizeAlert({ ...alertWith({}, annotations), ...fields }, CONTEXT, options()).dashboardUrl;
    expect(grafana({ dashboardURL: 'https://g/d/1', panelURL: 'https://g/d/1?viewPanel=2' })).toBe('https://g/d/1?viewPanel=2');
    expect(grafana({ dashboardURL: 'https://g/d/1', panelURL: '' })).toBe('https://g/d/1');
    expect(grafana({ panelURL: 'https://g/d/1?viewPanel=2' }, { dashboard_url: 'https://d/0' })).toBe('https://d/0');
  });

  it('reads generatorURL, and takes an empty one as none', () => {
    expect(normalizeAlert({ ...alertWith({}), generatorURL: 'http://prom:9090/graph' }, CONTEXT, options()).generatorUrl).toBe('http://prom:9090/graph');
    expect(normalizeAlert({ ...alertWith({}), generatorURL: '' }, CONTEXT, options()).generatorUrl).toBeNull();
  });
});

describe('identity', () => {
  it.each([
    ['0001-01-01T00:00:00Z', null],
    ['2026-11-27T19:00:00Z', '2026-11-27T19:00:00Z'],
    [undefined, null],
  ])('endsAt %j -> %j', (endsAt, expected) => {
    expect(normalizeAlert({ ...alertWith({}), endsAt }, CONTEXT, options()).endsAt).toBe(expected);
  });

  it('copies identity and context, and defaults what a sender may omit', () => {
    const { alertname: _, ...labels } = alertWith({ slo: 'api-latency' }).labels;
    const alert = normalizeAlert({ status: 'resolved', labels, startsAt: '2026-11-27T18:00:00Z', fingerprint: 'f00d' }, CONTEXT, options());
    expectFigures(alert, {
      fingerprint: 'f00d',
      status: 'resolved',
      startsAt: '2026-11-27T18:00:00Z',
      endsAt: null,
      ...CONTEXT,
      alertname: '',
      annotations: {},
      labels: { slo: 'api-latency' },
    });
  });
});

describe('routingLabels', () => {
  it('merges the mapped severity, slo and service into the labels', () => {
    const [alert] = normalizePayload(parsedFixture('sloth/page-and-ticket'), options());
    expect({ ...routingLabels(alert!) }).toEqual({
      ...alert!.labels,
      severity: 'critical',
      slo: 'api-latency',
      service: 'maestro-api',
    });
    expect(alert!.labels.severity).toBe('pageteam');
  });

  it('adds no slo or service it does not know', () => {
    const labels = routingLabels(normalize({ severity: 'info' }));
    expect({ ...labels }).toEqual({ alertname: 'MaestroSLOErrorBudgetBurn', severity: 'info' });
  });

  it('answers only for labels the alert has, whatever their names', () => {
    const labels = routingLabels(normalize({ constructor: 'c' }));
    expect(Object.getPrototypeOf(labels)).toBeNull();
    expect(labels.constructor).toBe('c');
    expect(labels.toString).toBeUndefined();
    expect(labels.hasOwnProperty).toBeUndefined();
  });
});
