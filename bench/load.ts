import autocannon from 'autocannon';
import { type BodyKind, ingestBodies } from './payloads.js';

/**
 * The load generator, in a process of its own so that it never shares an event loop with what it
 * measures: POSTs bodies with distinct alerts over `connections` keep-alive connections for
 * `durationSeconds` (or `amount` requests), after a short warm-up (JIT, connection pools) that is
 * not counted. The same generator loads the ceiling, Alertmanager and the router.
 */
export interface LoadRequest {
  url: string;
  token?: string;
  /** Alertmanager's webhook bodies for the router, or the same alerts as postable alerts for Alertmanager. */
  body: BodyKind;
  /** Alert groups (incidents) the requests go round. */
  groups: number;
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  /** Requests instead of a duration (the smoke run: a backlog it can drain in seconds). */
  amount?: number;
  warmupAmount?: number;
  /** Prefix of the seeds (fingerprints, instances) of this run's requests. */
  seedPrefix: string;
}

export interface LoadResult {
  requests: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p99: number; p99_9: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  /** CPU the load generator itself used while measuring, in cores. */
  cpuCores: number;
  /** Epoch ms at which the measured load ended (its last answer). */
  endedAt: number;
  /** Requests of the uncounted warm-up before. */
  warmupRequests: number;
}

async function hammer(request: LoadRequest, measure: { duration: number; amount?: number }, seedPrefix: string): Promise<autocannon.Result> {
  const body = ingestBodies(request.body, request.groups);
  let n = 0;
  return autocannon({
    url: request.url,
    method: 'POST',
    connections: request.connections,
    ...(measure.amount === undefined ? { duration: measure.duration } : { amount: measure.amount }),
    headers: {
      'content-type': 'application/json',
      ...(request.token && { authorization: `Bearer ${request.token}` }),
    },
    requests: [
      {
        setupRequest: (req) => {
          req.body = body(seedPrefix, n++);
          return req;
        },
      },
    ],
  });
}

async function run(request: LoadRequest): Promise<LoadResult> {
  // Warm-up and measured requests differ in their seeds' second letter: no fingerprint repeats.
  const warmup = await hammer(request, { duration: request.warmupSeconds, amount: request.warmupAmount }, `${request.seedPrefix}w`);
  const cpu = process.cpuUsage();
  const result = await hammer(request, { duration: request.durationSeconds, amount: request.amount }, `${request.seedPrefix}m`);
  const endedAt = Date.now();
  const { user, system } = process.cpuUsage(cpu);
  const answered = result.requests.total;
  return {
    requests: answered,
    requestsPerSecond: answered / result.duration,
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, p99_9: result.latency.p99_9, max: result.latency.max },
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    cpuCores: Math.round(((user + system) / 1e6 / result.duration) * 100) / 100,
    endedAt,
    warmupRequests: warmup.requests.total,
  };
}

process.once('message', (request: LoadRequest) => {
  run(request).then(
    (result) => process.send!(result, () => process.exit(0)),
    (error: Error) => process.send!({ error: error.message }, () => process.exit(1)),
  );
});
