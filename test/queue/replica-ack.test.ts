import { setImmediate } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createProducerConnection, createWorkerConnection } from '../../src/queue/redis.js';
import { ReplicaAck, ReplicaAckError, ReplicaAckLostError } from '../../src/queue/replica-ack.js';
import { startRedisNode } from '../support/redis-ha.js';
import { eventually } from '../support/router.js';

/** A node of the test's own with no replica: a WAIT for one blocks until its timeout. */
let cleanup: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function connectedTo(create: (url: string) => Redis) {
  const node = await startRedisNode();
  cleanup.push(() => node.close());
  const redis = create(node.url);
  redis.on('error', () => {});
  cleanup.push(() => redis.disconnect());
  await eventually(() => redis.status === 'ready', 5_000, 'the connection');
  await redis.set('written', '1');
  return { node, redis, id: String(await redis.client('ID')) };
}

describe('ReplicaAck', () => {
  it('says how many replicas confirmed when fewer than required did in time', async () => {
    const { redis } = await connectedTo(createWorkerConnection);
    const ack = new ReplicaAck(redis, 1, 200);
    await expect(ack.confirm('written')).rejects.toBeInstanceOf(ReplicaAckError);
  });

  it.each([
    ['worker', createWorkerConnection],
    ['producer', createProducerConnection],
  ] as const)('on a %s connection lost during the WAIT, says the writes are unconfirmed, not a count of the next connection', async (_role, create) => {
    const { node, redis, id } = await connectedTo(create);
    // Well within the producer's command timeout (2 s), the WAIT sent again included.
    const ack = new ReplicaAck(redis, 1, 800);
    const confirming = ack.confirm('written');
    const settled = confirming.catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // What a failover does to the connection: gone, its writes with it; ioredis may send the WAIT again on the next one.
    await node.node.command('CLIENT', 'KILL', 'ID', id);
    // A lost connection is an outage, not too few replicas: a sync must not go on without.
    expect(await settled).toBeInstanceOf(ReplicaAckLostError);
  });

  it('does not confirm writes of a lost connection with the WAIT that the next one answers', async () => {
    const { node, redis, id } = await connectedTo(createWorkerConnection);
    const ack = new ReplicaAck(redis, 1, 1_500);
    await redis.set('second', '1');
    const first = ack.confirm('written').catch((error: unknown) => error);
    await setImmediate();
    // A caller whose write was answered on this socket, waiting for the WAIT after the running one.
    const second = ack.confirm('second').catch((error: unknown) => error);
    await node.node.command('CLIENT', 'KILL', 'ID', id);
    expect(await first).toBeInstanceOf(ReplicaAckLostError);
    // Its WAIT goes out on the next socket, which never saw its write.
    expect(await second).toBeInstanceOf(ReplicaAckLostError);
  });
});
