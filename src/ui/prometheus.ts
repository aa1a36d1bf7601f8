import type { SloCatalog } from '../alerts/slo-catalog.js';

/**
 * SLO figures from Prometheus's HTTP query API, on the recording rules that deploy/prometheus
 * generates from the catalog: `slo:error_budget_remaining:ratio` (budget left over the SLO period)
 * and `slo:sli_error:ratio_rate5m` (error ratio now; divided by the error budget, the burn now).
 */
export interface SloFigures {
  budgetRemaining: number | null;
  burnRate: number | null;
  /** Budget remaining over the last days, oldest first: [epoch seconds, value]. */
  history: Array<[number, number]>;
}

export interface PrometheusReading {
  ok: boolean;
  /** Why the figures are missing, when !ok. */
  error?: string;
  at: number;
  bySlo: Map<string, SloFigures>;
}

const CACHE_MS = 15_000;
const TIMEOUT_MS = 2_000;
const HISTORY_SECONDS = 7 * 86_400;
const HISTORY_POINTS = 84;

interface VectorSample {
  metric: Record<string, string>;
  value?: [number, string];
  values?: Array<[number, string]>;
}

export class PrometheusSlos {
  private cached: { reading: PrometheusReading; until: number } | undefined;
  private inflight: Promise<PrometheusReading> | undefined;
  private readonly base: URL;
  private readonly headers: Record<string, string> = {};

  constructor(
    url: string,
    private readonly catalog: SloCatalog,
  ) {
    const parsed = new URL(url);
    // Credentials in the URL become a basic auth header: fetch refuses URLs that carry them.
    if (parsed.username || parsed.password) {
      this.headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString('base64')}`;
      parsed.username = '';
      parsed.password = '';
    }
    this.base = new URL(parsed.href.endsWith('/') ? parsed.href : `${parsed.href}/`);
  }

  /** The figures of every SLO of the catalog, at most CACHE_MS old; never throws. */
  async read(now = Date.now()): Promise<PrometheusReading> {
    if (this.cached && this.cached.until > now) return this.cached.reading;
    this.inflight ??= this.fetchAll(now).finally(() => {
      this.inflight = undefined;
    });
    const reading = await this.inflight;
    this.cached = { reading, until: now + (reading.ok ? CACHE_MS : CACHE_MS / 3) };
    return reading;
  }

  private async fetchAll(now: number): Promise<PrometheusReading> {
    const end = Math.floor(now / 1000);
    const start = end - HISTORY_SECONDS;
    const step = Math.floor(HISTORY_SECONDS / HISTORY_POINTS);
    try {
      const [budget, errors, history] = await Promise.all([
        this.query('api/v1/query', { query: 'slo:error_budget_remaining:ratio', time: String(end) }),
        this.query('api/v1/query', { query: 'slo:sli_error:ratio_rate5m', time: String(end) }),
        this.query('api/v1/query_range', { query: 'slo:error_budget_remaining:ratio', start: String(start), end: String(end), step: String(step) }),
      ]);
      const bySlo = new Map<string, SloFigures>();
      for (const slo of this.catalog.slos) {
        const errorBudget = 1 - slo.objective / 100;
        const ofSlo = (samples: VectorSample[]) => samples.find((sample) => sample.metric.slo === slo.name);
        const number = (text: string | undefined) => (text === undefined || !Number.isFinite(Number(text)) ? null : Number(text));
        const errorRatio = number(ofSlo(errors)?.value?.[1]);
        bySlo.set(slo.name, {
          budgetRemaining: number(ofSlo(budget)?.value?.[1]),
          burnRate: errorRatio === null ? null : errorRatio / errorBudget,
          history: (ofSlo(history)?.values ?? []).flatMap(([at, text]) => (Number.isFinite(Number(text)) ? [[at, Number(text)] as [number, number]] : [])),
        });
      }
      return { ok: true, at: now, bySlo };
    } catch (error) {
      return { ok: false, error: (error as Error).message, at: now, bySlo: new Map() };
    }
  }

  private async query(path: string, params: Record<string, string>): Promise<VectorSample[]> {
    const url = new URL(path, this.base);
    const res = await fetch(url, {
      method: 'POST',
      headers: { ...this.headers, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params).toString(),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const body = (await res.json().catch(() => null)) as { status?: string; error?: string; data?: { result?: VectorSample[] } } | null;
    if (!res.ok || body?.status !== 'success') throw new Error(`Prometheus ${url.pathname} answered ${res.status}${body?.error ? `: ${body.error}` : ''}`);
    return body.data?.result ?? [];
  }
}
