import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { BURN_ALERT, SLO_RULES_FILE } from '../../src/alerts/slo-rules.js';
import type { PostableAlert } from '../support/alertmanager.js';

const PROMETHEUS_URL = 'http://prometheus.maestro.example:9090';
/** Prometheus keeps a firing alert alive for 4 x max(evaluation interval, resend delay of 1m). */
const FIRING_VALIDITY_MS = 4 * 60_000;

interface AlertingRule {
  alert?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface BurnTier {
  slo: string;
  severity: 'warning' | 'critical';
  longWindow: string;
}

/** The burn-rate rule of one tier, from the shipped rules file (so the test sends what Prometheus would). */
export function burnAlertRule({ slo, severity, longWindow }: BurnTier): AlertingRule {
  const file = parse(readFileSync(fileURLToPath(new URL(`../../${SLO_RULES_FILE}`, import.meta.url)), 'utf8')) as {
    groups: Array<{ rules: AlertingRule[] }>;
  };
  const matches = file.groups
    .flatMap((group) => group.rules)
    .filter((rule) => rule.alert === BURN_ALERT && rule.labels?.slo === slo && rule.labels.severity === severity && rule.labels.long_window === longWindow);
  if (matches.length !== 1) throw new Error(`${SLO_RULES_FILE} has ${matches.length} ${severity} ${longWindow} burn rules for ${slo}, expected 1`);
  return matches[0]!;
}

/**
 * What Prometheus posts while `rule` fires with `value` ($value, the long-window burn rate): the
 * rule's labels plus alertname (the recorded series carry only slo and service, which the rule
 * labels repeat), its annotations rendered, and an endsAt a few minutes ahead. `queries` answers the
 * annotations' template queries (by PromQL text); one it does not answer finds no series, as in a
 * Prometheus without the recording rules, and its annotation renders empty.
 */
export function firingAlert(rule: AlertingRule, value: number, startsAt: Date, now = new Date(), queries: Record<string, number> = {}): PostableAlert {
  return {
    labels: { alertname: rule.alert!, ...rule.labels },
    annotations: Object.fromEntries(Object.entries(rule.annotations ?? {}).map(([name, text]) => [name, renderTemplate(text, value, queries)])),
    startsAt: startsAt.toISOString(),
    endsAt: new Date(now.getTime() + FIRING_VALIDITY_MS).toISOString(),
    generatorURL: `${PROMETHEUS_URL}/graph?${new URLSearchParams({ 'g0.expr': rule.expr, 'g0.tab': '1' })}`,
  };
}

/** What Prometheus posts once the alert stops firing: the same alert, ending now. */
export function resolvedAlert(alert: PostableAlert, now = new Date()): PostableAlert {
  return { ...alert, endsAt: now.toISOString() };
}

/**
 * The two template forms the shipped annotations use: {{ printf "%.Nf" $value }}, and
 * {{ with query `PROMQL` }}{{ . | first | value | printf "%.Nf" }}{{ end }} (src/alerts/slo-rules.ts).
 */
function renderTemplate(template: string, value: number, queries: Record<string, number>): string {
  const text = template
    .replace(/\{\{ printf "%\.(\d)f" \$value \}\}/g, (_, digits: string) => value.toFixed(Number(digits)))
    .replace(/\{\{ with query `([^`]*)` \}\}\{\{ \. \| first \| value \| printf "%\.(\d)f" \}\}\{\{ end \}\}/g, (_, query: string, digits: string) =>
      Object.hasOwn(queries, query) ? queries[query]!.toFixed(Number(digits)) : '',
    );
  if (text.includes('{{')) throw new Error(`annotation template this test cannot render: ${template}`);
  return text;
}
