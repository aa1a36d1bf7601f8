import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNEL_KINDS } from '../../src/domain/channels.js';
import { alertsTag, incidentsTag, queuePrefix } from '../../src/queue/keys.js';
import { INGEST_QUEUE, syncQueueName } from '../../src/queue/names.js';
import { createConnection } from '../../src/queue/redis.js';
import { keySlot } from '../../src/queue/replica-ack.js';
import { type ClusterSetup, incidentPayload, serviceName, socketWrites, startCluster, tallyIncidents } from '../support/redis-ha.js';
import { eventually, startTestRouter, type TestRouter } from '../support/router.js';
import { type FaultPeers, outcomesOf, reportFigures, startFaultPeers, startWebhookStream, WEBHOOK_TOKEN, type WebhookStream } from './harness.js';

/** The shipped prefix: the spread over the masters below is the one a default deployment gets. */
const PREFIX = 'alertcenter';

/** Every hash tag of the layout (src/queue/keys.ts), by what it holds. */
const TAGS: Record<string, string> = {
  [INGEST_QUEUE]: queuePrefix(PREFIX, INGEST_QUEUE),
  ...Object.fromEntries(CHANNEL_KINDS.map((kind) => [syncQueueName(kind), queuePrefix(PREFIX, syncQueueName(kind))])),
  incidents: incidentsTag(PREFIX),
  alerts: alertsTag(PREFIX),
};

describe('Redis Cluster: three masters with a replica each, two router replicas', () => {
  let cluster: ClusterSetup;
  let peers: FaultPeers;
  const routers: TestRouter[] = [];
  let round = 0;

  beforeAll(async () => {
    [cluster, peers] = await Promise.all([startCluster(), startFaultPeers()]);
    for (let i = 0; i < 2; i++) {
      routers.push(
        await startTestRouter({
          ...cluster.env,
          ...peers.env,
          REDIS_PREFIX: PREFIX,
          REDIS_MIN_REPLICAS_ACK: '1',
          REDIS_REPLICA_ACK_TIMEOUT: '1s',
          WEBHOOK_TOKENS: WEBHOOK_TOKEN,
          JOB_LOCK_DURATION: '2s',
          DELIVERY_BACKOFF: '200ms',
        }),
      );
    }
  }, 90_000);

  afterAll(async () => {
    // As a router process would under SHUTDOWN_TIMEOUT: a stop still waiting (a worker's connection
    // moving between masters after the failover) is given up after 20 s, and the cluster closed anyway.
    const stopped = (router: TestRouter) => Promise.race([router.stop().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 20_000))]);
    await Promise.all(routers.map(stopped));
    await Promise.all([cluster?.close(), peers?.close()]);
  }, 60_000);

  /** Both routers under load; each round's services are its own. */
  function load(): WebhookStream[] {
    const stream = round++;
    return routers.map((router, r) =>
      startWebhookStream(router.url, {
        senders: 2,
        retry503: true,
        pauseMs: 10,
        payload: (n) => incidentPayload(serviceName(String.fromCharCode(97 + 2 * stream + r), n), n % 3 === 0 ? 'critical' : 'warning'),
      }),
    );
  }

  const accepted = (streams: WebhookStream[], after = 0) => streams.flatMap((s) => s.results.filter((r) => r.outcome === 202 && r.endedAt > after));
  const incidentsOf = (streams: WebhookStream[]) =>
    accepted(streams).map((r) => ({ service: r.payload.alerts[0].labels.service as string, severity: r.payload.alerts[0].labels.severity }));

  async function expectAllDelivered(streams: WebhookStream[]) {
    const incidents = incidentsOf(streams);
    await eventually(() => tallyIncidents(peers, incidents).lost.length === 0, 60_000, 'every accepted incident delivered').catch(async (error: Error) => {
      // Dead letters name a cause, should a stalled or failed job be why.
      throw new Error(
        `${error.message}; missing: ${tallyIncidents(peers, incidents).lost.slice(0, 10).join(', ')}; dead letters: ${await deadLettersOf(routers[0]!)}`,
      );
    });
    return { incidents, tally: tallyIncidents(peers, incidents) };
  }

  async function deadLettersOf(router: TestRouter): Promise<string> {
    const res = await fetch(`${router.url}/api/v1/dead-letters`, { signal: AbortSignal.timeout(5_000) }).catch((error: Error) => error);
    if (res instanceof Error || !res.ok) return `unknown (${res instanceof Error ? res.message : res.status})`;
    const { deadLetters } = (await res.json()) as { deadLetters: Array<{ queue: string; reason: string }> };
    return `${deadLetters.length}: ${JSON.stringify(deadLetters.slice(0, 5).map(({ queue, reason }) => `${queue}: ${reason}`))}`;
  }

  it('takes webhooks and delivers them end to end, with the queues, incidents and alert state spread over the masters', async () => {
    const streams = load();
    await eventually(() => accepted(streams).length >= 30, 30_000, '30 webhooks accepted');
    await Promise.all(streams.map((stream) => stream.stop()));
    const { incidents, tally } = await expectAllDelivered(streams);

    // Where each tag's keys are: on the master that owns its slot, and nowhere else.
    const masters = await cluster.masters();
    const placement: Record<string, number> = {};
    for (const [name, tag] of Object.entries(TAGS)) {
      const owner = await cluster.masterOf(keySlot(tag));
      placement[name] = owner.port;
      const found = (await owner.command('KEYS', `${tag}*`)) as string[];
      expect(found.length, `keys of ${name} on the master of slot ${keySlot(tag)}`).toBeGreaterThan(0);
    }
    const mastersWithKeys = (await Promise.all(masters.map(async (m) => Number(await m.command('DBSIZE'))))).filter((n) => n > 0).length;
    reportFigures('redis-cluster-flow', {
      accepted: incidents.length,
      answers: outcomesOf(streams.flatMap((s) => s.results)),
      mastersWithKeys,
      duplicates: tally.duplicates.length,
    });
    expect(new Set(Object.values(placement)).size).toBeGreaterThan(1);
    expect(mastersWithKeys).toBeGreaterThan(1);
    expect(tally).toMatchObject({ lost: [], duplicates: [], unexpected: [] });
  }, 120_000);

  it('loses nothing accepted when the master of the ingest queue crashes under load (REDIS_MIN_REPLICAS_ACK=1)', async () => {
    const slot = keySlot(TAGS[INGEST_QUEUE]!);
    const master = await cluster.masterOf(slot);
    const streams = load();
    await eventually(() => accepted(streams).length >= 30, 30_000, '30 webhooks accepted before the crash');
    await master.kill();
    const crashedAt = Date.now();
    await eventually(async () => (await cluster.masterOf(slot).catch(() => master)) !== master, 30_000, 'the replica promoted');
    const promotedAt = Date.now();
    // Back as a replica of its successor (its nodes.conf says the cluster failed it over).
    await master.up();
    await eventually(() => accepted(streams, promotedAt).length >= 20, 60_000, '20 webhooks accepted after the failover');
    await Promise.all(streams.map((stream) => stream.stop()));
    const { incidents, tally } = await expectAllDelivered(streams);
    const results = streams.flatMap((s) => s.results);
    reportFigures('redis-cluster-failover-wait', {
      minReplicasAck: 1,
      webhooksSent: results.length,
      answers: outcomesOf(results),
      accepted: incidents.length,
      promotionMs: promotedAt - crashedAt,
      lost: tally.lost.length,
      duplicates: tally.duplicates.length,
      duplicated: tally.duplicates,
    });
    // The peers also hold the first test's incidents: only this round's services (its letters) count here.
    const ofThisRound = (service: string) => streams.some((_, r) => service.startsWith(`svc-${String.fromCharCode(97 + 2 * (round - 1) + r)}`));
    expect(tally.lost).toEqual([]);
    expect(tally.unexpected.filter(ofThisRound)).toEqual([]);
    expect(tally.duplicates.filter((duplicate) => !duplicate.startsWith('email '))).toEqual([]);
  }, 150_000);

  it("batches a turn's commands to one node in one socket write", async () => {
    const redis = createConnection(
      {
        topology: {
          kind: 'cluster',
          nodes: cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
          username: undefined,
          password: cluster.password,
          tls: false,
        },
        minReplicasAck: 0,
        replicaAckTimeoutMs: 0,
      },
      'worker',
    ) as Cluster;
    redis.on('error', () => {});
    try {
      await eventually(() => redis.status === 'ready', 10_000, 'the cluster connection');
      const key = '{turn-batching}:counter';
      await redis.set(key, '0');
      const slotOwner = await cluster.masterOf(keySlot(key));
      const node = redis.nodes('master').find((n: Redis) => n.options.port === slotOwner.port)!;
      const writes = await socketWrites(node, () => Promise.all([redis.set(key, '1'), redis.incr(key), redis.incrby(key, 5), redis.get(key)]));
      expect(writes).toEqual([4]);
    } finally {
      redis.disconnect();
    }
  }, 30_000);
});
