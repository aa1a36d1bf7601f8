import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { type DelayProxy, startDelayProxy } from './delay-proxy.js';
import { exited, freePort } from './processes.js';
import { eventually } from './router.js';

/**
 * Redis set-ups of a test's own, from Debian's redis-server and redis-sentinel: on loopback ports of
 * their own, in temporary directories, killed (and the directories removed) by close().
 */

/** One redis-server or redis-sentinel process; `args(port)` is its command line. */
export class RedisProcess {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly bin: string,
    private readonly args: (port: number) => string[],
    private readonly password: string | undefined,
  ) {}

  /** Starts the process on a free port (another if a parallel test took it first) and waits until it answers PING. */
  static async start(options: { bin?: string; args: (port: number, dir: string) => string[]; password?: string }): Promise<RedisProcess> {
    for (let attempt = 1; ; attempt++) {
      const dir = mkdtempSync(join(tmpdir(), 'alertcenter-ha-'));
      const port = await freePort();
      const node = new RedisProcess(port, dir, options.bin ?? 'redis-server', (p) => options.args(p, dir), options.password);
      try {
        await node.up();
        return node;
      } catch (error) {
        await node.close();
        if (attempt === 3) throw error;
      }
    }
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** A client of this process only (no failover), for the test to look at it. */
  client(): Redis {
    const client = new Redis({
      host: '127.0.0.1',
      port: this.port,
      password: this.password,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: 2_000,
      commandTimeout: 5_000,
    });
    client.on('error', () => {});
    return client;
  }

  /** Runs one command on this process with a throw-away client. */
  async command(...args: [string, ...Array<string | number>]): Promise<unknown> {
    const client = this.client();
    try {
      await client.connect();
      return await client.call(...args);
    } finally {
      client.disconnect();
    }
  }

  async up(): Promise<void> {
    const child = spawn(this.bin, this.args(this.port), { stdio: 'ignore' });
    this.child = child;
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`${this.bin} on port ${this.port} exited with ${child.exitCode} (port taken?)`);
        return this.command('PING').then(
          (reply) => reply === 'PONG',
          () => false,
        );
      },
      10_000,
      `${this.bin} on port ${this.port}`,
    );
  }

  /** kill -9: a crash. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await exited(child);
  }

  /** SIGSTOP: a Redis that hangs (a long fork, a stalled disk) instead of refusing. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async close(): Promise<void> {
    this.resume();
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const dataNodeArgs = (port: number, dir: string, password: string) => [
  '--port',
  String(port),
  '--bind',
  '127.0.0.1',
  '--dir',
  dir,
  '--save',
  '',
  '--appendonly',
  'no',
  '--requirepass',
  password,
  '--masterauth',
  password,
];

/** A single redis-server with a password of its own. */
export async function startRedisNode(): Promise<{ node: RedisProcess; url: string; close(): Promise<void> }> {
  const password = randomUUID();
  const node = await RedisProcess.start({ args: (port, dir) => dataNodeArgs(port, dir, password), password });
  return { node, url: `redis://:${password}@127.0.0.1:${node.port}`, close: () => node.close() };
}

// ------------------------------------------------------------------------------------- Sentinel

export interface SentinelSetup {
  name: string;
  password: string;
  master: RedisProcess;
  replica: RedisProcess;
  sentinels: RedisProcess[];
  /** The router's settings for this set-up. */
  env: Record<string, string>;
  /** The master's address as the sentinels name it now. */
  currentMaster(): Promise<string>;
  /**
   * kill -9 of the master, and with it the replication stream it had sent and the replica had not
   * received yet (what a crashed host takes with it).
   */
  crashMaster(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A master, one replica and three sentinels (quorum 2, master down after 2 s). With
 * `replicationDelayMs`, the replica reads the master's replication stream through a proxy that holds
 * it that long: the lag of a replica in another zone, or a busy one, on loopback.
 */
export async function startSentinelSetup(options: { replicationDelayMs?: number } = {}): Promise<SentinelSetup> {
  const started: RedisProcess[] = [];
  let proxyToClose: DelayProxy | undefined;
  try {
    return await sentinelSetup(options, started, (proxy) => (proxyToClose = proxy));
  } catch (error) {
    // Nothing of a set-up that did not come up outlives the test.
    await proxyToClose?.close();
    await Promise.all(started.map((node) => node.close()));
    throw error;
  }
}

async function sentinelSetup(options: { replicationDelayMs?: number }, started: RedisProcess[], onProxy: (proxy: DelayProxy) => void): Promise<SentinelSetup> {
  const name = 'alertcenter-ha';
  const password = randomUUID();
  const master = await RedisProcess.start({ args: (port, dir) => dataNodeArgs(port, dir, password), password });
  started.push(master);
  let proxy: DelayProxy | undefined = options.replicationDelayMs ? await startDelayProxy(master.port, options.replicationDelayMs) : undefined;
  if (proxy) onProxy(proxy);
  const replica = await RedisProcess.start({
    args: (port, dir) => [...dataNodeArgs(port, dir, password), '--replicaof', '127.0.0.1', String(proxy?.port ?? master.port)],
    password,
  });
  started.push(replica);
  await eventually(async () => String(await replica.command('INFO', 'replication')).includes('master_link_status:up'), 15_000, 'the replica in sync');

  const sentinels: RedisProcess[] = [];
  for (let i = 0; i < 3; i++) {
    sentinels.push(
      await RedisProcess.start({
        bin: 'redis-sentinel',
        args: (port, dir) => {
          const file = join(dir, 'sentinel.conf');
          writeFileSync(
            file,
            [
              `port ${port}`,
              'bind 127.0.0.1',
              `dir ${dir}`,
              `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
              `sentinel auth-pass ${name} ${password}`,
              // Not 1 s: a sentinel reconnects to an instance at most once a second, and after a
              // switch it may first reach the new master 1 s after its last try at the dead one;
              // with 1 s it then finds it silent, fails over again, and promotes the old master
              // restarted empty.
              `sentinel down-after-milliseconds ${name} 2000`,
              `sentinel failover-timeout ${name} 10000`,
              `sentinel parallel-syncs ${name} 1`,
              '',
            ].join('\n'),
          );
          return [file];
        },
      }),
    );
    started.push(sentinels.at(-1)!);
  }
  // Each sentinel must know the replica and the other two before a failover can be agreed on.
  await eventually(
    async () => {
      for (const sentinel of sentinels) {
        const fields = (await sentinel.command('SENTINEL', 'MASTER', name)) as string[];
        const info = Object.fromEntries(fields.flatMap((value, i) => (i % 2 === 0 ? [[value, fields[i + 1]]] : [])));
        if (info['num-slaves'] !== '1' || info['num-other-sentinels'] !== '2') return false;
      }
      return true;
    },
    20_000,
    'three sentinels that know the replica and each other',
  );

  const currentMaster = async () => {
    for (const sentinel of sentinels) {
      const reply = (await sentinel.command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name).catch(() => null)) as string[] | null;
      if (reply) return `${reply[0]}:${reply[1]}`;
    }
    throw new Error('no sentinel answers');
  };
  return {
    name,
    password,
    master,
    replica,
    sentinels,
    env: {
      REDIS_SENTINELS: sentinels.map((sentinel) => sentinel.address).join(','),
      REDIS_SENTINEL_NAME: name,
      REDIS_PASSWORD: password,
    },
    currentMaster,
    crashMaster: async () => {
      await Promise.all([master.kill(), proxy?.close()]);
      proxy = undefined;
    },
    close: async () => {
      await proxy?.close();
      await Promise.all([...sentinels, replica, master].map((node) => node.close()));
    },
  };
}

// ------------------------------------------------------------------------------------- Cluster

export interface ClusterSetup {
  password: string;
  nodes: RedisProcess[];
  env: Record<string, string>;
  /** The node that serves `slot` now, as the cluster says. */
  masterOf(slot: number): Promise<RedisProcess>;
  masters(): Promise<RedisProcess[]>;
  close(): Promise<void>;
}

/** Three masters with a replica each (`redis-cli --cluster create --cluster-replicas 1`), node timeout 1 s. */
export async function startCluster(): Promise<ClusterSetup> {
  const password = randomUUID();
  const started: RedisProcess[] = [];
  try {
    return await clusterSetup(password, started);
  } catch (error) {
    await Promise.all(started.map((node) => node.close()));
    throw error;
  }
}

async function clusterSetup(password: string, started: RedisProcess[]): Promise<ClusterSetup> {
  const nodes = await Promise.all(
    Array.from({ length: 6 }, () =>
      RedisProcess.start({
        args: (port, dir) => [
          ...dataNodeArgs(port, dir, password),
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, 'nodes.conf'),
          '--cluster-node-timeout',
          '1000',
        ],
        password,
      }).then((node) => {
        started.push(node);
        return node;
      }),
    ),
  );
  const created = spawnSync(
    'redis-cli',
    ['-a', password, '--no-auth-warning', '--cluster', 'create', ...nodes.map((node) => node.address), '--cluster-replicas', '1', '--cluster-yes'],
    { encoding: 'utf8', timeout: 30_000 },
  );
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
  await eventually(
    async () => {
      for (const node of nodes) {
        if (!String(await node.command('CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
        const lines = String(await node.command('CLUSTER', 'NODES'))
          .trim()
          .split('\n')
          .map((line) => line.split(' '));
        // <id> <address> <flags> <master> <ping> <pong> <epoch> <link> <slots>...
        if (lines.filter((fields) => fields[2]!.split(',').includes('master') && fields.length > 8).length !== 3) return false;
        if (lines.filter((fields) => fields[2]!.split(',').includes('slave')).length !== 3) return false;
      }
      return true;
    },
    30_000,
    'the cluster ok on every node, three masters and three replicas',
  );

  const byAddress = (address: string) => nodes.find((node) => address.startsWith(`${node.address}@`) || address === node.address);
  const slotsTable = async () => {
    for (const node of nodes) {
      const table = (await node.command('CLUSTER', 'SLOTS').catch(() => null)) as Array<[number, number, [string, number]]> | null;
      if (table) return table;
    }
    throw new Error('no cluster node answers');
  };
  return {
    password,
    nodes,
    env: {
      REDIS_CLUSTER_NODES: nodes
        .slice(0, 3)
        .map((node) => node.address)
        .join(','),
      REDIS_PASSWORD: password,
    },
    masterOf: async (slot) => {
      const range = (await slotsTable()).find(([from, to]) => slot >= from && slot <= to);
      const node = range && byAddress(`${range[2][0]}:${range[2][1]}`);
      if (!node) throw new Error(`no master for slot ${slot}`);
      return node;
    },
    masters: async () => (await slotsTable()).map(([, , [host, port]]) => byAddress(`${host}:${port}`)!).filter((node, i, all) => all.indexOf(node) === i),
    close: async () => {
      await Promise.all(nodes.map((node) => node.close()));
    },
  };
}

// ------------------------------------------------------------------------------------- socket writes

/**
 * The socket writes a node connection makes while `issue` runs and its replies come back: held
 * writes leave through _writev with all their chunks at once, others through _write one by one.
 */
export async function socketWrites(node: Redis, issue: () => Promise<unknown>): Promise<number[]> {
  const socket = node.stream;
  const writev = socket._writev!;
  const write = socket._write;
  const writes: number[] = [];
  socket._writev = (chunks, callback) => {
    writes.push(chunks.length);
    writev.call(socket, chunks, callback);
  };
  socket._write = (chunk, encoding, callback) => {
    writes.push(1);
    write.call(socket, chunk, encoding, callback);
  };
  try {
    await issue();
  } finally {
    socket._writev = writev;
    socket._write = write;
  }
  return writes;
}

// ------------------------------------------------------------------------------------- counting deliveries by incident

/**
 * One webhook per incident: a burn alert of its own `service` (incidents are keyed by alertname,
 * slo and service), critical ones paged and posted to Slack, warnings mailed and posted.
 */
export function incidentPayload(service: string, severity: 'critical' | 'warning'): any {
  return {
    receiver: 'alertcenter',
    status: 'firing',
    alerts: [
      {
        status: 'firing',
        labels: { alertname: 'MaestroSLOErrorBudgetBurn', slo: 'api-latency', service, severity, long_window: '6h', short_window: '30m' },
        annotations: { summary: `api-latency burning on ${service}`, burn_rate: severity === 'critical' ? '13.1' : '6.4' },
        startsAt: '2026-12-07T12:00:00Z',
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus.maestro.example:9090/graph?g0.expr=x',
        fingerprint: `${service}-${severity}`.replace(/[^a-z0-9]/gi, '').padEnd(16, '0'),
      },
    ],
    groupLabels: { alertname: 'MaestroSLOErrorBudgetBurn', service },
    commonLabels: { alertname: 'MaestroSLOErrorBudgetBurn', service, severity },
    commonAnnotations: {},
    externalURL: 'http://alertmanager.maestro.example:9093',
    version: '4',
    groupKey: `{}:{service="${service}"}`,
    truncatedAlerts: 0,
  };
}

/** `svc-a0007-x`: no service name is a part of another. */
export const serviceName = (stream: string, n: number) => `svc-${stream}${String(n).padStart(4, '0')}-x`;

export interface IncidentTally {
  /** Incidents (services) accepted with a 202. */
  expected: number;
  /** Accepted incidents that some receiver never heard of. */
  lost: string[];
  /** Receivers told of one incident more than once as a person sees it: a second Slack message, mail or PagerDuty incident. */
  duplicates: string[];
  /** Notifications about services never accepted. */
  unexpected: string[];
}

interface Peers {
  slackCalls: Array<{ record: { method: string; args: Record<string, unknown> }; behavior: { kind: string } }>;
  pagerdutyEvents: Array<{ record: { event: any }; behavior: { kind: string } }>;
  mails: Array<{ record: { parsed: { text?: string; subject?: string } } }>;
}

const SERVICE = /svc-[a-z]\d{4}-x/;

/** What each channel peer received, per incident (its service), against the webhooks that got a 202. */
export function tallyIncidents(peers: Peers, accepted: ReadonlyArray<{ service: string; severity: 'critical' | 'warning' }>): IncidentTally {
  const seen = new Map<string, { slack: number; email: number; pagerduty: Set<string> }>();
  const entry = (service: string) => {
    const found = seen.get(service) ?? { slack: 0, email: 0, pagerduty: new Set<string>() };
    seen.set(service, found);
    return found;
  };
  for (const { record, behavior } of peers.slackCalls) {
    if (behavior.kind !== 'ok' || record.method !== 'chat.postMessage' || record.args.thread_ts !== undefined) continue;
    const service = SERVICE.exec(JSON.stringify(record.args))?.[0];
    if (service) entry(service).slack += 1;
  }
  for (const { record } of peers.mails) {
    const service = SERVICE.exec(`${record.parsed.subject ?? ''} ${record.parsed.text ?? ''}`)?.[0];
    if (service) entry(service).email += 1;
  }
  for (const { record, behavior } of peers.pagerdutyEvents) {
    const service = SERVICE.exec(JSON.stringify(record.event))?.[0];
    if (behavior.kind === 'ok' && service) entry(service).pagerduty.add(String(record.event.dedup_key));
  }
  const lost: string[] = [];
  const duplicates: string[] = [];
  const services = new Set(accepted.map(({ service }) => service));
  for (const { service, severity } of accepted) {
    const got = seen.get(service) ?? { slack: 0, email: 0, pagerduty: new Set<string>() };
    const counts = severity === 'critical' ? { slack: got.slack, pagerduty: got.pagerduty.size } : { slack: got.slack, email: got.email };
    for (const [channel, count] of Object.entries(counts)) {
      if (count === 0) lost.push(`${channel} ${service}`);
      if (count > 1) duplicates.push(`${channel} ${service} x${count}`);
    }
  }
  return { expected: services.size, lost, duplicates, unexpected: [...seen.keys()].filter((service) => !services.has(service)) };
}
