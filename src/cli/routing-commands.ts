import { loadSloCatalog, type SloCatalog } from '../alerts/slo-catalog.js';
import type { Severity } from '../alerts/types.js';
import { formatDuration } from '../config/duration.js';
import type { ReceiverConfig } from '../domain/channels.js';
import { parseRoutingConfig, readRoutingFile } from '../routing/config.js';
import type { Env } from '../routing/interpolate.js';
import { formatMatcher } from '../routing/matchers.js';
import { explainRoute } from '../routing/route.js';
import { maskSecret, sha256 } from '../routing/store.js';
import { routingLabelsOfTestAlert } from '../routing/test-alert.js';
import type { MuteReason, RouteConfig, RouteVerdict, RoutingConfig, RoutingDecision } from '../routing/types.js';

export interface CliResult {
  exitCode: number;
  /** Goes to stdout when exitCode is 0, to stderr otherwise. */
  output: string;
}

export interface RoutingFiles {
  routingFile: string;
  sloCatalogFile: string;
}

/** `routing check`: validates the routing file and the SLO catalog, and summarizes the routing. */
export function checkRouting(files: RoutingFiles, env: Env): CliResult {
  const errors: string[] = [];
  const attempt = <T>(load: () => T): T | undefined => {
    try {
      return load();
    } catch (error) {
      errors.push((error as Error).message);
      return undefined;
    }
  };
  const text = attempt(() => readRoutingFile(files.routingFile));
  const config = text === undefined ? undefined : attempt(() => parseRoutingConfig(text, files.routingFile, env));
  const catalog = attempt(() => loadSloCatalog(files.sloCatalogFile));
  if (!config || !catalog) return { exitCode: 1, output: lines(errors) };
  return {
    exitCode: 0,
    output: lines([
      `${files.routingFile}: OK (sha256 ${sha256(text!)})`,
      `${files.sloCatalogFile}: OK, ${catalog.slos.length} SLOs: ${catalog.slos.map((slo) => slo.name).join(', ')}`,
      '',
      ...summarize(config),
    ]),
  };
}

export interface RoutingTestInput extends RoutingFiles {
  labels: Record<string, string>;
  at: Date;
  explain: boolean;
  defaultSeverity: Severity;
}

/** `routing test`: where an alert with these labels would go, normalized as the server does. */
export function testRouting(input: RoutingTestInput, env: Env): CliResult {
  let config: RoutingConfig;
  let catalog: SloCatalog;
  try {
    config = parseRoutingConfig(readRoutingFile(input.routingFile), input.routingFile, env);
    catalog = loadSloCatalog(input.sloCatalogFile);
  } catch (error) {
    return { exitCode: 1, output: lines([(error as Error).message]) };
  }
  return { exitCode: 0, output: lines(explainRouting(config, catalog, input)) };
}

/**
 * The explained decision, line by line: what `routing test --explain` prints, and what the
 * AlertCenter page's routing tester shows (the same code, so they cannot disagree).
 */
export function explainRouting(
  config: RoutingConfig,
  catalog: SloCatalog,
  input: { labels: Record<string, string>; at: Date; explain: boolean; defaultSeverity: Severity },
): string[] {
  const labels = routingLabelsOfTestAlert(input.labels, input.at, { catalog, defaultSeverity: input.defaultSeverity });
  const { verdicts, decision } = explainRoute(config, labels, input.at);
  return [
    `Labels as routed: ${formatLabels(labels)}`,
    `At: ${input.at.toISOString()}`,
    ...(input.explain ? ['', 'Routes, in order:', ...verdicts.map((verdict, i) => `  ${i + 1}. ${describeVerdict(verdict)}`), ''] : []),
    ...describeDecision(decision),
  ];
}

function summarize(config: RoutingConfig): string[] {
  return [
    `Receivers (${config.receivers.length}):`,
    ...table(config.receivers.map((receiver) => [receiver.name, receiver.kind, destination(receiver)])),
    '',
    `Routes (${config.routes.length}), tried in order; the first match wins unless it says continue:`,
    ...config.routes.flatMap((route, i) => [`  ${i + 1}. ${route.name}`, ...routeDetails(route).map((detail) => `       ${detail}`)]),
    '',
    `Default receivers (alerts no route matches): ${config.defaultReceivers.join(', ')}`,
    ...(config.timeIntervals.length > 0 ? [`Time intervals: ${config.timeIntervals.map((interval) => interval.name).join(', ')}`] : []),
  ];
}

function destination(receiver: ReceiverConfig): string {
  switch (receiver.kind) {
    case 'slack':
      return receiver.slack.channel;
    case 'email':
      return receiver.email.to.join(', ') + (receiver.email.from ? ` (from ${receiver.email.from})` : '');
    case 'pagerduty':
      return receiver.pagerduty.routingKey === undefined
        ? 'routing key from PAGERDUTY_ROUTING_KEY'
        : `routing key ${maskSecret(receiver.pagerduty.routingKey)}`;
  }
}

function routeDetails(route: RouteConfig): string[] {
  return [
    `matchers: ${route.matchers.length > 0 ? route.matchers.map(formatMatcher).join(', ') : '(none: matches every alert)'}`,
    `receivers: ${route.receivers.join(', ')}`,
    `repeat interval: ${formatDuration(route.repeatIntervalMs)}`,
    `incidents: by ${route.incident.incidentBy?.join(', ') ?? 'alertname, slo, service (the fingerprint without an SLO)'}; resolve hold ${formatDuration(route.incident.resolveHoldMs)}; stale after ${formatDuration(route.incident.staleAfterMs)}`,
    ...(route.continue ? ['continue: true'] : []),
    ...(route.activeTimeIntervals.length > 0 ? [`active during: ${route.activeTimeIntervals.join(', ')}`] : []),
    ...(route.muteTimeIntervals.length > 0 ? [`muted during: ${route.muteTimeIntervals.join(', ')}`] : []),
  ];
}

function describeVerdict(verdict: RouteVerdict): string {
  switch (verdict.outcome) {
    case 'matched':
      return `${verdict.route}: matched -> ${verdict.receivers.join(', ')}`;
    case 'muted':
      return `${verdict.route}: matched but muted (${describeMute(verdict.mutedBy)})`;
    case 'not_matched': {
      const seen = verdict.labelValue === null ? 'the label is absent' : `the value is ${JSON.stringify(verdict.labelValue)}`;
      return `${verdict.route}: not matched: ${verdict.failedMatcher} fails, ${seen}`;
    }
    case 'not_reached':
      return `${verdict.route}: not tried: route ${verdict.stoppedAt} matched before it without continue`;
  }
}

function describeMute(reason: MuteReason): string {
  return reason.kind === 'mute_time_interval'
    ? `mute time interval ${reason.interval} is in effect`
    : `outside its active time intervals: ${reason.intervals.join(', ')}`;
}

function describeDecision(decision: RoutingDecision): string[] {
  if (decision.usedDefault) {
    return [`No route matched: default receivers ${unique(decision.deliveries.map((d) => d.receiver)).join(', ')}`];
  }
  const matched = decision.matches.map((match) => {
    const muted = match.mutedBy ? ` [muted: ${describeMute(match.mutedBy)}]` : '';
    return `  ${match.route} -> ${match.receivers.join(', ')} (repeat interval ${formatDuration(match.repeatIntervalMs)})${muted}`;
  });
  const receivers = unique(decision.deliveries.map((d) => d.receiver));
  return [
    `Matched routes (${decision.matches.length}):`,
    ...matched,
    receivers.length > 0 ? `Delivered to: ${receivers.join(', ')}` : 'Delivered to nobody now: every matching route is muted',
  ];
}

function formatLabels(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((name) => `${name}=${JSON.stringify(labels[name])}`)
    .join(' ');
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => `  ${row.map((cell, column) => (column < row.length - 1 ? cell.padEnd(widths[column]!) : cell)).join('  ')}`);
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

function lines(text: string[]): string {
  return `${text.join('\n')}\n`;
}
