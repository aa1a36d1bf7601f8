import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { RedisSettings, RedisTopology } from '../config/env.js';
import type { Logger } from '../observability/logger.js';
import { FailoverSafeSentinelConnector } from './sentinel-connector.js';

/** A connection to one node, to a master found through Sentinel, or to a Cluster: what every part of the router takes. */
export type RedisClient = Redis | Cluster;

const batched = new WeakSet<Redis>();

/**
 * Makes the commands a node connection is given in one turn of the event loop leave in one socket
 * write: the socket is corked at the turn's first command and uncorked once its I/O callbacks are
 * done (setImmediate). In an alert storm a write per command was the webhook's largest single cost
 * and a fifth of Redis's. Each command keeps its own reply. A command waits at most for the rest of
 * its turn (one issued from a setImmediate callback, for the next turn's).
 *
 * It works per socket, so it applies as is to one node and to the master that Sentinel names (the
 * same connection object, whose socket is replaced on failover); on a Cluster it applies to each
 * node's connection as the cluster client creates it (test/queue/turn-batching.test.ts pins all three).
 */
export function batchTurns(redis: Redis): Redis {
  if (batched.has(redis)) return redis;
  batched.add(redis);
  const send = redis.sendCommand.bind(redis);
  let holding = false;
  redis.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
    if (!holding && redis.status === 'ready') {
      const socket = redis.stream;
      socket.cork();
      holding = true;
      setImmediate(() => {
        holding = false;
        socket.uncork();
      });
    }
    return send(...args);
  }) as Redis['sendCommand'];
  return redis;
}

/**
 * What each connection is for:
 * - `producer`, the webhook's writes: fails fast (no offline queue, a command timeout), so a Redis
 *   outage is an immediate 503 that Alertmanager retries, never a request hanging forever;
 * - `worker`, the workers' commands: waits out outages and failovers (bullmq requires
 *   maxRetriesPerRequest null on blocking connections);
 * - `request`, what /metrics, /readyz and the admin API read: fails faster still, so they answer
 *   within a second during an outage instead of queueing behind a connection that retries forever.
 */
export type ConnectionRole = 'producer' | 'worker' | 'request';

interface RoleOptions {
  enableOfflineQueue: boolean;
  maxRetriesPerRequest: number | null;
  commandTimeout?: number;
  connectTimeout: number;
}

function roleOptions(role: ConnectionRole, settings: RedisSettings): RoleOptions {
  switch (role) {
    case 'producer':
      // A WAIT for replicas blocks the connection for up to its timeout: the commands behind it must outlast it.
      return {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        commandTimeout: 2_000 + (settings.minReplicasAck > 0 ? settings.replicaAckTimeoutMs : 0),
        connectTimeout: 2_000,
      };
    case 'request':
      return { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 700, connectTimeout: 1_000 };
    case 'worker':
      return { enableOfflineQueue: true, maxRetriesPerRequest: null, connectTimeout: 10_000 };
  }
}

const retryStrategy = (attempt: number) => Math.min(attempt * 200, 2_000);

/** A connection of `role` to the Redis the settings describe. */
export function createConnection(settings: RedisSettings, role: ConnectionRole): RedisClient {
  return connect(settings.topology, roleOptions(role, settings));
}

function connect(topology: RedisTopology, options: RoleOptions): RedisClient {
  switch (topology.kind) {
    case 'single':
      return batchTurns(new Redis(topology.url, { ...options, retryStrategy }));
    case 'sentinel':
      return batchTurns(
        new Redis({
          ...options,
          retryStrategy,
          sentinels: topology.sentinels,
          name: topology.name,
          sentinelPassword: topology.sentinelPassword,
          username: topology.username,
          password: topology.password,
          ...(topology.tls && { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true }),
          // Sentinel's +switch-master announcement moves the connection at once, without waiting to notice the old master is
          // gone. Not ioredis's failoverDetector option: it can end the connection for good (see the class).
          Connector: FailoverSafeSentinelConnector,
          sentinelRetryStrategy: (attempt: number) => Math.min(attempt * 100, 1_000),
        }),
      );
    case 'cluster': {
      const clusterOptions: ClusterOptions = {
        enableOfflineQueue: options.enableOfflineQueue,
        clusterRetryStrategy: retryStrategy,
        // A master that died: its replica takes over within cluster-node-timeout, after which the slots move.
        retryDelayOnFailover: 200,
        retryDelayOnClusterDown: 300,
        retryDelayOnTryAgain: 100,
        slotsRefreshTimeout: 2_000,
        redisOptions: {
          username: topology.username,
          password: topology.password,
          ...(topology.tls && { tls: {} }),
          maxRetriesPerRequest: options.maxRetriesPerRequest,
          commandTimeout: options.commandTimeout,
          connectTimeout: options.connectTimeout,
        } satisfies ClusterOptions['redisOptions'] & Partial<RedisOptions>,
      };
      const cluster = new Cluster(topology.nodes, clusterOptions);
      cluster.on('+node', (node: Redis) => batchTurns(node));
      return cluster;
    }
  }
}

/** Logs an outage once when it starts and once when it ends, not on every reconnection attempt. */
export function reportConnectionState(redis: RedisClient, role: string, logger: Logger): void {
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
export function logWorkerError(connection: RedisClient, logger: Logger, fields: Record<string, unknown>) {
  return (error: Error) => {
    if (connection.status === 'ready') logger.error({ ...fields, err: error }, 'worker error');
  };
}

/** The errors of a Redis that cannot answer now (down, failing over, too slow), as opposed to a bug. */
export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (['MaxRetriesPerRequestError', 'ClusterAllFailedError', 'ReplicaAckError', 'ReplicaAckLostError'].includes(error.name)) return true;
  return /Stream isn't writeable|Command timed out|Connection is closed|Cluster is ended|None of startup nodes|Failed to refresh slots|CLUSTERDOWN|LOADING|READONLY|MASTERDOWN|TRYAGAIN|ECONNREFUSED|ETIMEDOUT|All sentinels are unreachable|Redis is not ready/.test(
    error.message,
  );
}

/** A producer connection to one node (REDIS_URL); see createConnection. */
export function createProducerConnection(url: string): Redis {
  return createConnection({ topology: { kind: 'single', url }, minReplicasAck: 0, replicaAckTimeoutMs: 0 }, 'producer') as Redis;
}

/** A worker connection to one node (REDIS_URL); see createConnection. */
export function createWorkerConnection(url: string): Redis {
  return createConnection({ topology: { kind: 'single', url }, minReplicasAck: 0, replicaAckTimeoutMs: 0 }, 'worker') as Redis;
}
