import { Redis } from 'ioredis';

/**
 * Producers fail fast: with no offline queue and a command timeout, a Redis outage turns into an
 * immediate error (and a 503 to Alertmanager, which retries) instead of a request hanging forever.
 */
export function createProducerConnection(url: string): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 2_000,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
}

/** Workers wait out outages: bullmq requires maxRetriesPerRequest null on blocking connections. */
export function createWorkerConnection(url: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
}
