import { existsSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { loadSloCatalog, SloCatalogError } from '../alerts/slo-catalog.js';
import { ConfigError, loadConfig } from '../config/env.js';
import { IncidentStore } from '../incidents/store.js';
import { PrometheusError } from '../prometheus/client.js';
import { type ReportFormat, renderReport } from '../report/render.js';
import { ReportService } from '../report/service.js';
import { WeekError } from '../report/week.js';

export const REPORT_USAGE = `  alertcenter report weekly [--week 2026-W49] [--format html|markdown|json] [--out FILE]
      The weekly SLO review of an ISO week in REPORT_TIME_ZONE (default: the last complete week):
      figures from Prometheus (PROMETHEUS_URL), incidents from Redis (REDIS_URL, REDIS_PREFIX).
      Default format html, to stdout. Exit 1 when Prometheus or Redis cannot be read.
`;

const FORMATS: readonly ReportFormat[] = ['html', 'markdown', 'json'];

interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** `alertcenter report weekly ...`: exit code 0, 1 (Prometheus, Redis, config) or 2 (usage). */
export async function runReportCommand(args: string[], env: Record<string, string | undefined>, io: Io): Promise<number> {
  const fail = (code: number, message: string) => {
    io.stderr.write(`alertcenter: ${message}\n`);
    return code;
  };
  const [command, ...rest] = args;
  if (command !== 'weekly')
    return fail(2, `${command === undefined ? 'report needs a command: weekly' : `unknown command "report ${command}"`}\n\nUsage:\n${REPORT_USAGE}`);
  let values: { week?: string; format?: string; out?: string };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: { week: { type: 'string' }, format: { type: 'string', default: 'html' }, out: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    return fail(2, `${(error as Error).message.split('. ')[0]}\n\nUsage:\n${REPORT_USAGE}`);
  }
  const format = values.format as ReportFormat;
  if (!FORMATS.includes(format)) return fail(2, `--format: expected html, markdown or json, got "${values.format}"`);

  // As the router does: .env in the working directory when present; the real environment wins.
  if (env === process.env && existsSync('.env')) process.loadEnvFile('.env');
  let redis: Redis | undefined;
  try {
    const config = loadConfig(env);
    const catalog = loadSloCatalog(config.sloCatalogFile);
    redis = new Redis(config.redisUrl, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      connectTimeout: 3_000,
      commandTimeout: 10_000,
      retryStrategy: () => null,
    });
    redis.on('error', () => {});
    try {
      await redis.connect();
    } catch (error) {
      return fail(1, `REDIS_URL: cannot reach Redis for the incidents (${(error as Error).message})`);
    }
    const service = new ReportService({ config, catalog, incidents: new IncidentStore(redis, config.redisPrefix) });
    const report = await service.build(values.week, true);
    const text = renderReport(report, format);
    if (values.out === undefined) io.stdout.write(text);
    else {
      writeFileSync(values.out, text);
      io.stderr.write(`alertcenter: weekly SLO review ${report.week} written to ${values.out}\n`);
    }
    return 0;
  } catch (error) {
    if (error instanceof PrometheusError || error instanceof ConfigError || error instanceof SloCatalogError || error instanceof WeekError) {
      return fail(1, error instanceof WeekError ? `--week: ${error.message}` : error.message);
    }
    throw error;
  } finally {
    redis?.disconnect();
  }
}
