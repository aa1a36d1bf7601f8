import autocannon from 'autocannon';
import { webhookBody } from './payloads.js';

/**
 * The load generator, in a process of its own so that it never shares an event loop with what it
 * measures: POSTs webhooks with distinct alerts over `connections` keep-alive connections for
 * `durationSeconds`, after a short warm-up (JIT, connection pools) that is not counted.
 */
export interface LoadRequest {
  url: string;
  token?: string;
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  /** Prefix of the seeds (fingerprints, instances) of this run's webhooks. */
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
}

async function hammer(request: LoadRequest, durationSeconds: number, seedPrefix: string): Promise<autocannon.Result> {
  let n = 0;
  return autocannon({
    url: request.url,
    method: 'POST',
    connections: request.connections,
    duration: durationSeconds,
    headers: {
      'content-type': 'application/json',
      ...(request.token && { authorization: `Bearer ${request.token}` }),
    },
    requests: [
      {
        setupRequest: (req) => {
          req.body = webhookBody(seedPrefix, n++);
          return req;
        },
      },
    ],
  });
}

async function run(request: LoadRequest): Promise<LoadResult> {
  // Warm-up and measured webhooks differ in their seeds' second letter: no fingerprint repeats.
  await hammer(request, request.warmupSeconds, `${request.seedPrefix}w`);
  const cpu = process.cpuUsage();
  const result = await hammer(request, request.durationSeconds, `${request.seedPrefix}m`);
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
  };
}

process.once('message', (request: LoadRequest) => {
  run(request).then(
    (result) => process.send!(result, () => process.exit(0)),
    (error: Error) => process.send!({ error: error.message }, () => process.exit(1)),
  );
});
