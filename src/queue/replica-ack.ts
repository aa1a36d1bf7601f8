import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './redis.js';

/** Fewer replicas than REDIS_MIN_REPLICAS_ACK confirmed a write in time: it may not survive a failover. */
export class ReplicaAckError extends Error {
  override name = 'ReplicaAckError';
}

/**
 * The connection a WAIT was sent on was lost before it answered: the writes it was to confirm may
 * have gone with the master, and whatever the next connection answers is not about them.
 */
export class ReplicaAckLostError extends Error {
  override name = 'ReplicaAckLostError';
}

/**
 * Redis's WAIT, for REDIS_MIN_REPLICAS_ACK: replication is asynchronous, so a write answered by the
 * master can vanish when a replica that had not received it is promoted. `confirm` resolves once
 * `replicas` replicas hold every write this connection made to the node of `key` so far.
 *
 * WAIT counts the writes of the connection it is sent on, on the node it is sent to: on a Cluster
 * it goes to the master that owns the key's slot, on that master's connection of the cluster
 * client, the one that took the write. WAIT blocks its connection until it returns, so the
 * requests of one moment share one WAIT per node: one sent after a write was answered covers it.
 */
export class ReplicaAck {
  private readonly waits = new WeakMap<Redis, SharedWait>();

  constructor(
    private readonly connection: RedisClient,
    readonly replicas: number,
    readonly timeoutMs: number,
  ) {}

  get enabled(): boolean {
    return this.replicas > 0;
  }

  /** Rejects with a ReplicaAckError when fewer than `replicas` replicas confirmed in time. */
  async confirm(...keys: string[]): Promise<void> {
    if (!this.enabled) return;
    const counts = await Promise.all(this.nodesOf(keys).map((node) => this.waitOn(node)));
    const fewest = Math.min(...counts);
    if (fewest < this.replicas) {
      throw new ReplicaAckError(`${fewest} of the ${this.replicas} replicas required (REDIS_MIN_REPLICAS_ACK) confirmed the write within ${this.timeoutMs} ms`);
    }
  }

  /** The connections to the masters of `keys`' slots (one for a single node or Sentinel). */
  private nodesOf(keys: string[]): Redis[] {
    if (!(this.connection instanceof Cluster)) return [this.connection];
    const cluster = this.connection;
    const masters = cluster.nodes('master');
    const nodes = new Set<Redis>();
    for (const key of keys) {
      const nodeKey = cluster.slots[keySlot(key)]?.[0];
      const node = masters.find((candidate) => `${candidate.options.host}:${candidate.options.port}` === nodeKey);
      if (!node) throw new ReplicaAckError(`no master known for the slot of ${key}: the cluster is failing over`);
      nodes.add(node);
    }
    return [...nodes];
  }

  private waitOn(node: Redis): Promise<number> {
    let shared = this.waits.get(node);
    if (!shared) {
      shared = new SharedWait(node, this.replicas, this.timeoutMs);
      this.waits.set(node, shared);
    }
    return shared.join();
  }
}

/** A WAIT's answer, the socket it was sent on, and whether that socket closed before the answer. */
interface WaitResult {
  count: number;
  socket: Redis['stream'];
  lost: boolean;
}

/**
 * One WAIT at a time on a connection; whoever asks while one runs shares the next.
 *
 * WAIT counts the writes made on its own socket, and ioredis sends a command again after a
 * reconnection (to the master Sentinel names now, say): an answer is about a caller's writes only
 * if the WAIT was sent and answered on the socket those writes were answered on.
 */
class SharedWait {
  private running: Promise<unknown> | undefined;
  private next: Promise<WaitResult> | undefined;

  constructor(
    private readonly node: Redis,
    private readonly replicas: number,
    private readonly timeoutMs: number,
  ) {}

  async join(): Promise<number> {
    const written = this.node.stream;
    this.next ??= (async () => {
      await this.running?.catch(() => undefined);
      // From here on a new caller's write may not be covered by this WAIT: it waits for the next.
      this.next = undefined;
      const socket = this.node.stream;
      const sent = this.node.call('WAIT', this.replicas, this.timeoutMs);
      this.running = sent;
      const count = Number(await sent);
      return { count, socket, lost: this.node.stream !== socket };
    })();
    const { count, socket, lost } = await this.next;
    if (lost || socket !== written)
      throw new ReplicaAckLostError('the connection to Redis was lost before replicas confirmed the writes: they may be lost with it');
    return count;
  }
}

/** Redis Cluster's key slot: CRC16 (XMODEM) of the key's hash tag, or of the key, modulo 16384. */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(key)) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}
