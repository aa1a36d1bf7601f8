import { parseArgs } from 'node:util';
import type { Severity } from '../alerts/types.js';
import type { Env } from '../routing/interpolate.js';
import { REPORT_USAGE, runReportCommand } from './report-command.js';
import { type CliResult, checkRouting, type RoutingFiles, testRouting } from './routing-commands.js';

export type { CliResult };

export const USAGE = `Usage:
  alertcenter routing check [file] [--slos <file>]
      Validate the routing file (default: $ROUTING_FILE or routing/routes.yaml) and the SLO
      catalog (default: $SLO_CATALOG_FILE or routing/slos.yaml); print a summary. Exit 1 when invalid.
  alertcenter routing test <label>=<value>... [--file <file>] [--slos <file>] [--at <time>] [--explain]
      Show where a firing alert with these labels goes, normalized as the router does
      (e.g. severity=critical slo=api-latency). --at: an ISO 8601 time for time intervals (default now);
      --explain: why each route did or did not match.
${REPORT_USAGE}`;

const SEVERITIES: readonly Severity[] = ['critical', 'warning', 'info'];
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

class UsageError extends Error {
  override name = 'UsageError';
}

/** The whole command line as a function: args in, exit code and text out. `env` stands for process.env. */
export function runCli(args: string[], env: Env): CliResult {
  try {
    return dispatch(args, env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return { exitCode: 2, output: `alertcenter: ${error.message}\n\n${USAGE}` };
  }
}

/** For bin/alertcenter.js: runs the command, writes its output, returns the exit code (a promise for `report`, which reads Prometheus and Redis). */
export function main(args: string[], env: Env, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream } = process): number | Promise<number> {
  if (args[0] === 'report') return runReportCommand(args.slice(1), env, io);
  const { exitCode, output } = runCli(args, env);
  (exitCode === 0 ? io.stdout : io.stderr).write(output);
  return exitCode;
}

function dispatch(args: string[], env: Env): CliResult {
  const [group, command, ...rest] = args;
  if (group === undefined || group === 'help' || group === '--help' || group === '-h') return { exitCode: 0, output: USAGE };
  if (group !== 'routing') throw new UsageError(`unknown command "${group}"`);
  if (command === 'check') return runCheck(rest, env);
  if (command === 'test') return runTest(rest, env);
  throw new UsageError(command === undefined ? 'routing needs a command: check or test' : `unknown command "routing ${command}"`);
}

function runCheck(args: string[], env: Env): CliResult {
  const { values, positionals } = parse(args, { slos: { type: 'string' } });
  if (positionals.length > 1) throw new UsageError('routing check takes at most one file');
  return checkRouting(files(env, positionals[0], values.slos), env);
}

function runTest(args: string[], env: Env): CliResult {
  const { values, positionals } = parse(args, {
    file: { type: 'string' },
    slos: { type: 'string' },
    at: { type: 'string' },
    explain: { type: 'boolean', default: false },
  });
  if (positionals.length === 0) throw new UsageError('routing test needs labels, such as severity=critical slo=api-latency');
  return testRouting(
    {
      ...files(env, values.file, values.slos),
      labels: parseLabels(positionals),
      at: parseTime(values.at),
      explain: values.explain === true,
      defaultSeverity: defaultSeverity(env),
    },
    env,
  );
}

function parse<Options extends NonNullable<Parameters<typeof parseArgs>[0]>['options']>(args: string[], options: Options) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    // parseArgs' messages are plain ("Unknown option '--fil'. To specify a positional..."); keep the first sentence.
    throw new UsageError((error as Error).message.split('. ')[0]!);
  }
}

function files(env: Env, routingFile: string | undefined, sloCatalogFile: string | undefined): RoutingFiles {
  return {
    routingFile: routingFile ?? env.ROUTING_FILE ?? 'routing/routes.yaml',
    sloCatalogFile: sloCatalogFile ?? env.SLO_CATALOG_FILE ?? 'routing/slos.yaml',
  };
}

function parseLabels(pairs: string[]): Record<string, string> {
  const labels: Record<string, string> = Object.create(null);
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    const name = pair.slice(0, equals);
    if (equals === -1 || !LABEL_NAME.test(name)) throw new UsageError(`expected <label>=<value>, got "${pair}"`);
    labels[name] = pair.slice(equals + 1);
  }
  return labels;
}

function parseTime(text: string | undefined): Date {
  if (text === undefined) return new Date();
  const at = new Date(text);
  if (Number.isNaN(at.getTime())) throw new UsageError(`--at: expected an ISO 8601 time such as 2025-01-06T09:30:00Z, got "${text}"`);
  return at;
}

/** The router's DEFAULT_SEVERITY, so that labels without a known severity route as they would there. */
function defaultSeverity(env: Env): Severity {
  const value = env.DEFAULT_SEVERITY?.trim() || 'warning';
  if (!(SEVERITIES as readonly string[]).includes(value)) {
    throw new UsageError(`DEFAULT_SEVERITY: expected one of ${SEVERITIES.join(', ')}, got "${value}"`);
  }
  return value as Severity;
}
