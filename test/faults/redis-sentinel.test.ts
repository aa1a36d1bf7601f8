import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { CHANNEL_KINDS } from '../../src/domain/channels.js';
import { openIngestQueue } from '../../src/queue/ingest.js';
import { queuePrefix } from '../../src/queue/keys.js';
import { syncQueueName } from '../../src/queue/names.js';
import { createConnection } from '../../src/queue/redis.js';
import { incidentPayload, type SentinelSetup, serviceName, socketWrites, startSentinelSetup, tallyIncidents } from '../support/redis-ha.js';
import { eventually, startTestRouter, type TestRouter, testPrefix } from '../support/router.js';
import { type FaultPeers, outcomesOf, reportFigures, startFaultPeers, startWebhookStream, WEBHOOK_TOKEN, type WebhookStream } from './harness.js';

/** The replica reads the master's stream this late: what a crash of the master's host takes with it. */
const REPLICATION_DELAY_MS = 150;

interface Run {
  setup: SentinelSetup;
  peers: FaultPeers;
  routers: TestRouter[];
  prefix: string;
}

let run: Partial<Run> = {};

afterEach(async () => {
  await Promise.all((run.routers ?? []).map((router) => router.stop().catch(() => undefined)));
  await Promise.all([run.setup?.close(), run.peers?.close()]);
  run = {};
});

/** A Sentinel set-up, the channel peers, and two router replicas on them. */
async function startRun(minReplicasAck: number): Promise<Run> {
  const [setup, peers] = await Promise.all([startSentinelSetup({ replicationDelayMs: REPLICATION_DELAY_MS }), startFaultPeers()]);
  run = { setup, peers, routers: [] };
  const prefix = testPrefix();
  run.prefix = prefix;
  for (let i = 0; i < 2; i++) {
    run.routers!.push(
      await startTestRouter({
        ...setup.env,
        ...peers.env,
        REDIS_PREFIX: prefix,
        REDIS_MIN_REPLICAS_ACK: String(minReplicasAck),
        REDIS_REPLICA_ACK_TIMEOUT: '1s',
        WEBHOOK_TOKENS: WEBHOOK_TOKEN,
        // A job a lost master held is run again soon.
        JOB_LOCK_DURATION: '2s',
        DELIVERY_BACKOFF: '200ms',
      }),
    );
  }
  return run as Run;
}

/** Both routers under load: two Alertmanager-like senders each, a webhook resent after a 503. */
function load(routers: TestRouter[]): WebhookStream[] {
  return routers.map((router, r) =>
    startWebhookStream(router.url, {
      senders: 2,
      retry503: true,
      pauseMs: 10,
      payload: (n) => incidentPayload(serviceName(String.fromCharCode(97 + r), n), n % 3 === 0 ? 'critical' : 'warning'),
    }),
  );
}

const accepted = (streams: WebhookStream[], after = 0) =>
  streams.flatMap((stream) => stream.results.filter((result) => result.outcome === 202 && result.endedAt > after));

/** No webhook or sync waits, runs or is scheduled, as the master the sentinels name now sees it. */
async function idle(setup: SentinelSetup, prefix: string): Promise<boolean> {
  const redis = new Redis({
    sentinels: setup.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
    name: setup.name,
    password: setup.password,
    maxRetriesPerRequest: 1,
  });
  redis.on('error', () => {});
  const queues = [
    openIngestQueue(redis, prefix),
    ...CHANNEL_KINDS.map(
      (kind) => new Queue(syncQueueName(kind), { connection: redis, prefix: queuePrefix(prefix, syncQueueName(kind)), skipVersionCheck: true }),
    ),
  ];
  try {
    const counts = await Promise.all(queues.map((queue) => queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized')));
    return counts.every((count) => Object.values(count).every((n) => n === 0));
  } catch {
    return false;
  } finally {
    await Promise.all(queues.map((queue) => queue.close()));
    redis.disconnect();
  }
}

/** Runs load, crashes the master under it, waits for Sentinel's promotion, and brings the old master back as a replica. */
async function failoverUnderLoad({ setup, routers }: Run) {
  const streams = load(routers);
  await eventually(() => accepted(streams).length >= 40, 30_000, '40 webhooks accepted before the crash');
  const oldMaster = setup.master.address;
  await setup.crashMaster();
  const crashedAt = Date.now();
  const acceptedBeforeCrash = accepted(streams).filter((result) => result.endedAt <= crashedAt).length;
  await eventually(async () => (await setup.currentMaster()) === setup.replica.address, 30_000, 'Sentinel to promote the replica');
  const promotedAt = Date.now();
  // The old master comes back as a replica of the new one (what an operator, or Sentinel, makes of it).
  await restartAsReplica(setup);
  await eventually(() => accepted(streams, promotedAt).length >= 20, 60_000, '20 webhooks accepted after the failover').catch(async (error: Error) => {
    // Why the routers still refuse: the last things they logged about Redis.
    const lines = routers.flatMap((router) =>
      router.logs
        .entries()
        .filter((entry) => /redis|Redis|replica/.test(String(entry.msg)))
        .slice(-3)
        .map((entry) => `${entry.msg} ${String(entry.err ?? '')}`),
    );
    throw new Error(`${error.message}; sentinels name ${await setup.currentMaster()}; routers logged: ${lines.join(' | ')}`);
  });
  await Promise.all(streams.map((stream) => stream.stop()));
  return { streams, oldMaster, crashedAt, promotedAt, acceptedBeforeCrash };
}

async function restartAsReplica(setup: SentinelSetup): Promise<void> {
  await setup.master.up();
  await setup.master.command('REPLICAOF', '127.0.0.1', String(setup.replica.port));
  await eventually(
    async () => String(await setup.master.command('INFO', 'replication')).includes('master_link_status:up'),
    30_000,
    'the old master in sync as a replica',
  );
}

function acceptedIncidents(streams: WebhookStream[]) {
  return accepted(streams).map((result) => ({
    service: result.payload.alerts[0].labels.service as string,
    severity: result.payload.alerts[0].labels.severity as 'critical' | 'warning',
  }));
}

describe('fault: the Redis master crashes under load, Sentinel promotes its replica (150 ms behind)', () => {
  it('with REDIS_MIN_REPLICAS_ACK=1, every webhook that got a 202 reaches each of its receivers, once', { timeout: 150_000 }, async () => {
    const current = await startRun(1);
    const { streams, crashedAt, promotedAt } = await failoverUnderLoad(current);
    const incidents = acceptedIncidents(streams);
    await eventually(() => tallyIncidents(current.peers, incidents).lost.length === 0, 60_000, 'every accepted incident delivered').catch((error: Error) => {
      throw new Error(`${error.message}; missing: ${tallyIncidents(current.peers, incidents).lost.slice(0, 10).join(', ')}`);
    });
    await eventually(() => idle(current.setup, current.prefix), 30_000, 'every queue drained');
    const tally = tallyIncidents(current.peers, incidents);
    const results = streams.flatMap((stream) => stream.results);
    reportFigures('redis-sentinel-failover-wait', {
      minReplicasAck: 1,
      replicationDelayMs: REPLICATION_DELAY_MS,
      webhooksSent: results.length,
      answers: outcomesOf(results),
      accepted: incidents.length,
      promotionMs: promotedAt - crashedAt,
      lost: tally.lost.length,
      duplicates: tally.duplicates.length,
      duplicated: tally.duplicates,
    });
    expect(incidents.length).toBeGreaterThanOrEqual(60);
    expect(tally).toMatchObject({ lost: [], unexpected: [] });
    // PagerDuty folds a resend into its dedup_key and Slack looks its message up before posting
    // again; a mail sent in the crash's window, whose record went with the master, goes out twice
    // (docs/RELIABILITY.md, "Known limits").
    expect(tally.duplicates.filter((duplicate) => !duplicate.startsWith('email '))).toEqual([]);
  });

  it('without it (REDIS_MIN_REPLICAS_ACK=0), counts the webhooks answered 202 and then lost with the master', async () => {
    const current = await startRun(0);
    const { streams, crashedAt, promotedAt } = await failoverUnderLoad(current);
    const incidents = acceptedIncidents(streams);
    // Everything that survived is processed and delivered once the queues are idle; what is missing then is lost.
    await eventually(() => idle(current.setup, current.prefix), 60_000, 'every queue drained');
    await eventually(() => tallyIncidents(current.peers, incidents).lost.length === 0, 5_000, 'deliveries').catch(() => undefined);
    const tally = tallyIncidents(current.peers, incidents);
    const lostServices = new Set(tally.lost.map((key) => key.split(' ')[1]));
    const lostAccepted = streams
      .flatMap((stream) => stream.results)
      .filter((result) => result.outcome === 202 && lostServices.has(result.payload.alerts[0].labels.service));
    const results = streams.flatMap((stream) => stream.results);
    reportFigures('redis-sentinel-failover-no-wait', {
      minReplicasAck: 0,
      replicationDelayMs: REPLICATION_DELAY_MS,
      webhooksSent: results.length,
      answers: outcomesOf(results),
      accepted: incidents.length,
      promotionMs: promotedAt - crashedAt,
      lostIncidents: lostServices.size,
      lostNotifications: tally.lost.length,
      // How long before the crash the lost ones had been answered 202 (ms; negative: after it).
      lostAnsweredMsBeforeCrash: lostAccepted.map((result) => crashedAt - result.endedAt),
      duplicates: tally.duplicates.length,
    });
    expect(incidents.length).toBeGreaterThanOrEqual(60);
    // Whatever was lost had been sent before the crash: nothing sent after it is. (Not "answered
    // before it": a write the master took just before SIGKILL is answered to the sender, in this
    // process, a turn of the event loop or two after the test has seen the master exit.)
    const sentAfterCrash = lostAccepted.filter((result) => result.startedAt > crashedAt);
    expect(sentAfterCrash.map((result) => `${result.payload.alerts[0].labels.service} sent ${result.startedAt - crashedAt} ms after`)).toEqual([]);
  }, 150_000);

  it("batches a turn's commands in one socket write on the master Sentinel names, and again after a failover", async () => {
    const setup = await startSentinelSetup();
    run = { setup };
    const redis = createConnection(
      {
        topology: {
          kind: 'sentinel',
          sentinels: setup.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
          name: setup.name,
          sentinelPassword: undefined,
          username: undefined,
          password: setup.password,
          tls: false,
        },
        minReplicasAck: 0,
        replicaAckTimeoutMs: 0,
      },
      'worker',
    ) as Redis;
    const events: string[] = [];
    redis.on('error', (error: Error) => events.push(`error ${error.message}`));
    for (const event of ['ready', 'close', 'reconnecting', '+node'] as const) redis.on(event, () => events.push(event));
    try {
      await eventually(() => redis.status === 'ready', 10_000, 'the connection');
      const key = 'turn-batching';
      const issue = () => Promise.all([redis.set(key, '1'), redis.incr(key), redis.incrby(key, 5), redis.get(key)]);
      expect(await socketWrites(redis, issue)).toEqual([4]);
      await setup.crashMaster();
      await eventually(async () => (await setup.currentMaster()) === setup.replica.address, 30_000, 'Sentinel to promote the replica');
      await eventually(
        async () =>
          redis.status === 'ready' &&
          (await redis.call('ROLE').then(
            (role) => (role as string[])[0],
            () => '',
          )) === 'master',
        45_000,
        'the connection on the new master',
      ).catch(async (error: Error) => {
        throw new Error(
          `${error.message}; status ${redis.status}, sentinels name ${await setup.currentMaster()}, replica ${setup.replica.address}; events: ${events.slice(-12).join(' | ')}`,
        );
      });
      expect(await socketWrites(redis, issue)).toEqual([4]);
    } finally {
      redis.disconnect();
    }
  }, 60_000);
});
