import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { type ConnectionRole, createConnection } from '../../src/queue/redis.js';
import { type FakeSentinel, startFakeSentinel } from '../support/fake-sentinel.js';
import { RedisProcess } from '../support/redis-ha.js';
import { eventually } from '../support/router.js';

/**
 * A Sentinel connection and Sentinel's +switch-master announcement, at moments the test picks: two
 * redis-servers of the test's own, and a fake sentinel that names one of them and announces when told.
 */

const NAME = 'alertcenter-fake';

let cleanup: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function startNode(): Promise<RedisProcess> {
  const node = await RedisProcess.start({
    args: (port, dir) => ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
  });
  cleanup.push(() => node.close());
  return node;
}

async function connectThrough(sentinel: FakeSentinel, role: ConnectionRole): Promise<Redis> {
  const redis = createConnection(
    {
      topology: {
        kind: 'sentinel',
        sentinels: [{ host: '127.0.0.1', port: sentinel.port }],
        name: NAME,
        sentinelPassword: undefined,
        username: undefined,
        password: undefined,
        tls: false,
      },
      minReplicasAck: 0,
      replicaAckTimeoutMs: 0,
    },
    role,
  ) as Redis;
  redis.on('error', () => {});
  cleanup.push(() => redis.disconnect());
  await eventually(() => redis.status === 'ready', 10_000, 'the connection');
  // Listening for Sentinel's announcements, as the connection does once it is up.
  await eventually(() => sentinel.subscribers > 0, 5_000, 'a subscription to +switch-master');
  return redis;
}

describe.each(['producer', 'worker'] as const)('a %s connection through Sentinel', (role) => {
  it('outlives a failover announced while it is asking the sentinels for the new master', async () => {
    const [oldMaster, newMaster] = await Promise.all([startNode(), startNode()]);
    const sentinel = await startFakeSentinel(oldMaster.port);
    cleanup.push(() => sentinel.close());
    const redis = await connectThrough(sentinel, role);
    const statuses: string[] = [];
    redis.on('end', () => statuses.push('end'));

    // The master crashes; the connection reconnects and asks the sentinel, which is slow to answer.
    sentinel.hold();
    await oldMaster.kill();
    await eventually(() => sentinel.pendingQuestions > 0, 10_000, 'the connection asking for the master');
    // Sentinel promotes the replica and announces it while the question is still open.
    sentinel.nameMaster(newMaster.port);
    sentinel.announceSwitch(NAME, oldMaster.port, newMaster.port);
    await new Promise((resolve) => setTimeout(resolve, 50));
    sentinel.release();

    await eventually(() => redis.status === 'ready' || redis.status === 'end', 10_000, 'the connection to settle');
    expect(statuses).toEqual([]);
    expect(redis.status).toBe('ready');
    expect(redis.stream.remotePort).toBe(newMaster.port);
    expect(await redis.ping()).toBe('PONG');
  });

  it('moves to the new master on the announcement, even while the old one still answers (a master that hung)', async () => {
    const [oldMaster, newMaster] = await Promise.all([startNode(), startNode()]);
    const sentinel = await startFakeSentinel(oldMaster.port);
    cleanup.push(() => sentinel.close());
    const redis = await connectThrough(sentinel, role);

    // Another master of the same sentinels failing over is not ours.
    sentinel.nameMaster(newMaster.port);
    sentinel.announceSwitch(`${NAME}-other`, 1, 2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(redis.stream.remotePort).toBe(oldMaster.port);

    sentinel.announceSwitch(NAME, oldMaster.port, newMaster.port);
    await eventually(() => redis.status === 'ready' && redis.stream.remotePort === newMaster.port, 10_000, 'the connection on the new master');
    expect(await redis.ping()).toBe('PONG');
  });
});
