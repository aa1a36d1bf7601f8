/** What `npm run bench` measures, from the environment and the command line. */
export type Phase = 'ceiling' | 'alertmanager' | 'single' | 'split' | 'storm';
export const PHASES: readonly Phase[] = ['ceiling', 'alertmanager', 'single', 'split', 'storm'];

export interface BenchOptions {
  /** A short version of everything, for CI to keep the bench working (never to judge speed). */
  smoke: boolean;
  /** Phases to run (BENCH_PHASES=storm,split; all by default): a partial run judges only what it ran. */
  phases: Phase[];
  /** Ingest load against the ceiling, Alertmanager and the router, each (BENCH_DURATION). */
  ingestSeconds: number;
  /** Uncounted load before each ingest measurement: JIT and connection pools settle. */
  warmupSeconds: number;
  /** The smoke run loads by request count instead (a backlog it can drain in seconds). */
  ingestAmount?: number;
  warmupAmount?: number;
  connections: number;
  /** Incident keys the alerts go round (BENCH_GROUPS): the three SLOs on groups/3 services. */
  groups: number;
  /** The storm: BENCH_STORM_ALERTS alerts within BENCH_STORM_SECONDS. */
  stormAlerts: number;
  stormSeconds: number;
  /** After the load, how long the bench waits for the router's queues to drain before it reports them as not drained. */
  drainTimeoutSeconds: number;
  /** The storm on one process of ROLE=all (BENCH_SINGLE_PROCESS=1 or --single-process) instead of api + workers. */
  singleProcess: boolean;
  /** Worker processes beside the api process in the split deployment (BENCH_WORKERS). */
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

function phases(env: Record<string, string | undefined>): Phase[] {
  const text = env.BENCH_PHASES?.trim();
  if (!text) return [...PHASES];
  const names = text.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !PHASES.includes(name as Phase));
  if (unknown.length > 0) throw new BenchOptionError(`BENCH_PHASES: unknown phase(s) ${unknown.join(', ')}; expected some of ${PHASES.join(', ')}`);
  return PHASES.filter((phase) => names.includes(phase));
}

export function benchOptions(env: Record<string, string | undefined>, argv: readonly string[]): BenchOptions {
  const smoke = env.BENCH_SMOKE === '1' || argv.includes('--smoke');
  return {
    smoke,
    phases: phases(env),
    ingestSeconds: smoke ? 1 : positive(env, 'BENCH_DURATION', 10),
    warmupSeconds: smoke ? 0.5 : 2,
    ...(smoke && { ingestAmount: 300, warmupAmount: 60 }),
    connections: 32,
    groups: smoke ? 6 : integer(env, 'BENCH_GROUPS', [1, 300], 30),
    stormAlerts: smoke ? 600 : positive(env, 'BENCH_STORM_ALERTS', 10_000),
    stormSeconds: smoke ? 3 : positive(env, 'BENCH_STORM_SECONDS', 60),
    drainTimeoutSeconds: smoke ? 60 : positive(env, 'BENCH_DRAIN_TIMEOUT', 120),
    singleProcess: env.BENCH_SINGLE_PROCESS === '1' || argv.includes('--single-process'),
    workers: integer(env, 'BENCH_WORKERS', [1, 16], 2),
    workerNice: integer(env, 'BENCH_WORKER_NICE', [0, 19], 10),
    profile: env.BENCH_PROFILE === '1' || argv.includes('--profile'),
    routerEnv: stringRecord(env, 'BENCH_ROUTER_ENV'),
  };
}
