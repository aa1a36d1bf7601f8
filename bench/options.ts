/** What `npm run bench` measures, from the environment and the command line. */
export interface BenchOptions {
  /** A 2-second version of everything, for CI to keep the bench working (never to judge speed). */
  smoke: boolean;
  /** Ingest and ceiling load, each (BENCH_DURATION). */
  ingestSeconds: number;
  /** Uncounted load before each ingest measurement: JIT and connection pools settle. */
  warmupSeconds: number;
  connections: number;
  /**
   * Uncounted end-to-end load at the same rate first (BENCH_E2E_WARMUP), drained before the
   * measurement: an alert storm meets a running router, not one fresh from start-up (its JIT cold,
   * no connections open). Its latency is reported apart, as the cold start.
   */
  e2eWarmupSeconds: number;
  /** End-to-end steady load (BENCH_E2E_DURATION, BENCH_E2E_RATE alerts/s). */
  e2eSeconds: number;
  e2eAlertsPerSecond: number;
  /** After the last webhook, how long the peers may receive nothing before the rest counts as lost. */
  stallTimeoutSeconds: number;
  /** The router as one process of ROLE=all (BENCH_SINGLE_PROCESS=1 or --single-process), to compare with the split. */
  singleProcess: boolean;
  /** Worker processes beside the api process (BENCH_WORKERS): one per core the rest of the run leaves. */
  workers: number;
  /** Their nice value (BENCH_WORKER_NICE; 0 = the api's priority). */
  workerNice: number;
  /** `node --cpu-prof` on the router processes (BENCH_PROFILE=1). */
  profile: boolean;
  /** Experiments only, and always reported: settings over the router's (BENCH_ROUTER_ENV='{"DELIVERY_CONCURRENCY":"4"}'). */
  routerEnv: Record<string, string>;
}

export class BenchOptionError extends Error {
  override name = 'BenchOptionError';
}

function positive(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const text = env[name]?.trim();
  if (!text) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new BenchOptionError(`${name}: expected a positive number, got "${text}"`);
  return value;
}

function integer(env: Record<string, string | undefined>, name: string, [min, max]: [number, number], fallback: number): number {
  const text = env[name]?.trim();
  if (!text) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new BenchOptionError(`${name}: expected an integer from ${min} to ${max}, got "${text}"`);
  return value;
}

function stringRecord(env: Record<string, string | undefined>, name: string): Record<string, string> {
  const text = env[name]?.trim();
  if (!text) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BenchOptionError(`${name}: expected a JSON object, got "${text}"`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.values(value).some((v) => typeof v !== 'string')) {
    throw new BenchOptionError(`${name}: expected a JSON object of strings, got "${text}"`);
  }
  return value as Record<string, string>;
}

export function benchOptions(env: Record<string, string | undefined>, argv: readonly string[]): BenchOptions {
  const smoke = env.BENCH_SMOKE === '1' || argv.includes('--smoke');
  return {
    smoke,
    ingestSeconds: smoke ? 2 : positive(env, 'BENCH_DURATION', 10),
    warmupSeconds: smoke ? 0.5 : 2,
    connections: 32,
    e2eWarmupSeconds: smoke ? 1 : positive(env, 'BENCH_E2E_WARMUP', 10),
    e2eSeconds: smoke ? 2 : positive(env, 'BENCH_E2E_DURATION', 20),
    e2eAlertsPerSecond: positive(env, 'BENCH_E2E_RATE', 500),
    stallTimeoutSeconds: 30,
    singleProcess: env.BENCH_SINGLE_PROCESS === '1' || argv.includes('--single-process'),
    workers: integer(env, 'BENCH_WORKERS', [1, 16], 2),
    workerNice: integer(env, 'BENCH_WORKER_NICE', [0, 19], 10),
    profile: env.BENCH_PROFILE === '1' || argv.includes('--profile'),
    routerEnv: stringRecord(env, 'BENCH_ROUTER_ENV'),
  };
}
