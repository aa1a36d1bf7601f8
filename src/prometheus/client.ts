import { PrometheusDriver, type QueryResult } from 'prometheus-query';

export interface PrometheusOptions {
  /** PROMETHEUS_URL: http(s)://host:9090, optionally with a path prefix and user:password for basic auth. */
  url: string;
  /** PROMETHEUS_BEARER_TOKEN: sent as `Authorization: Bearer`. */
  bearerToken?: string | undefined;
  /** Deadline of one HTTP request. */
  timeoutMs: number;
}

/**
 * Prometheus could not answer (network, timeout, HTTP error, query refused). The message is one line
 * naming PROMETHEUS_URL (its credentials left out), for the CLI and the report's "unavailable" note.
 */
export class PrometheusError extends Error {
  override name = 'PrometheusError';
}

/** A time series as [epoch ms, value] pairs, oldest first. */
export type Samples = Array<[number, number]>;

/** The URL as it may be printed: user and password left out. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return '(malformed URL)';
  }
}

/**
 * The report's Prometheus queries, over prometheus-query (a client of the HTTP API: /api/v1/query and
 * /api/v1/query_range, basic auth, headers, timeouts). Only the first series of each answer is read:
 * every query of src/prometheus/queries.ts selects one SLO, and the rules record one series per SLO.
 */
export class PrometheusClient {
  private readonly driver: PrometheusDriver;
  private readonly shownUrl: string;

  constructor(private readonly options: PrometheusOptions) {
    const parsed = new URL(options.url);
    const path = parsed.pathname.replace(/\/+$/, '');
    this.shownUrl = displayUrl(options.url);
    this.driver = new PrometheusDriver({
      endpoint: parsed.origin,
      baseURL: `${path}/api/v1`,
      timeout: options.timeoutMs,
      // Long PromQL (the catalog's SLI expressions over a week) stays out of the URL.
      preferPost: true,
      ...(parsed.username === '' ? {} : { auth: { username: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password) } }),
      ...(options.bearerToken === undefined ? {} : { headers: { Authorization: `Bearer ${options.bearerToken}` } }),
    });
  }

  /** The value of the query's first series at `at` (epoch ms), or null when no series answers. */
  async instant(query: string, at: number): Promise<number | null> {
    const result = await this.run(() => this.driver.instantQuery(query, new Date(at)));
    const first = result.result[0] as { value?: { value: number } } | undefined;
    return first?.value === undefined ? null : first.value.value;
  }

  /** The first series' samples every `stepSeconds` from `start` to `end` (epoch ms, both included). */
  async range(query: string, start: number, end: number, stepSeconds: number): Promise<Samples> {
    const result = await this.run(() => this.driver.rangeQuery(query, new Date(start), new Date(end), stepSeconds));
    const first = result.result[0] as { values?: Array<{ time: Date; value: number }> } | undefined;
    return (first?.values ?? []).map((sample) => [sample.time.getTime(), sample.value]);
  }

  private async run(call: () => Promise<QueryResult>): Promise<QueryResult> {
    try {
      return await call();
    } catch (error) {
      throw new PrometheusError(`PROMETHEUS_URL ${this.shownUrl}: ${describe(error, this.options.timeoutMs)}`);
    }
  }
}

/** prometheus-query rejects with a plain object ({ status, errorType, error }) or an Error. */
function describe(error: unknown, timeoutMs: number): string {
  const e = error as { errorType?: string; error?: string; message?: string; code?: string };
  const text = (e.error ?? e.message ?? String(error)).split('\n')[0]!;
  if (e.errorType === 'timeout_error') return `no answer within ${timeoutMs} ms`;
  if (e.errorType === 'network_error' || e.errorType === 'ssl_error') return `cannot reach Prometheus (${text})`;
  return `Prometheus refused the query (${e.errorType ?? 'error'}: ${text})`;
}
