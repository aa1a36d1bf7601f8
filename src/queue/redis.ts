import { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';

/**
 * A connection whose commands issued in one turn of the event loop leave in one socket write: the
 * socket is corked at the turn's first command and uncorked once its I/O callbacks are done
 * (setImmediate). In an alert storm a write per command was the webhook's largest single cost and
 * a fifth of Redis's. Each command keeps its own reply. A command waits at most for the rest of its
 * turn (one issued from a setImmediate callback, for the next turn's).
 */
class TurnBatchedRedis extends Redis {
  private holding = false;

  override sendCommand(...args: Parameters<Redis['sendCommand']>): unknown {
    if (!this.holding && this.status === 'ready') {
      const socket = this.stream;
      socket.cork();
      this.holding = true;
      setImmediate(() => {
        this.holding = false;
        socket.uncork();
      });
    }
    return super.sendCommand(...args);
  }
}

/**
 * Producers fail fast: with no offline queue and a command timeout, a Redis outage turns into an
 * immediate error (and a 503 to Alertmanager, which retries) instead of a request hanging forever.
 */
export function createProducerConnection(url: string): Redis {
  return new TurnBatchedRedis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 2_000,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
}

/** Workers wait out outages: bullmq requires maxRetriesPerRequest null on blocking connections. */
export function createWorkerConnection(url: string): Redis {
  return new TurnBatchedRedis(url, {
    maxRetriesPerRequest: null,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
}

/** Logs an outage once when it starts and once when it ends, not on every reconnection attempt. */
export function reportConnectionState(redis: Redis, role: string, logger: Logger): void {
  let down = false;
  redis.on('error', (error: Error) => {
    if (down) return;
    down = true;
    logger.error({ role, err: error.message }, 'redis connection lost; retrying');
  });
  redis.on('ready', () => {
    if (!down) return;
    down = false;
    logger.info({ role }, 'redis connection restored');
  });
}

/** Worker errors while Redis is unreachable repeat the outage already reported; keep the others. */
export function logWorkerError(connection: Redis, logger: Logger, fields: Record<string, unknown>) {
  return (error: Error) => {
    if (connection.status === 'ready') logger.error({ ...fields, err: error }, 'worker error');
  };
}
