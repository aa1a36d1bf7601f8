import type { ChildProcess } from 'node:child_process';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { ChannelKind } from '../../src/domain/channels.js';
import { openIngestQueue } from '../../src/queue/ingest.js';
import { INGEST_QUEUE } from '../../src/queue/names.js';
import { SyncQueues } from '../../src/queue/syncs.js';
import { startChannelPeers } from '../peers/channel-peers.js';
import type { PeerBehavior } from '../peers/http-peer.js';
import type { PagerDutyPeer, PagerDutyRequest } from '../peers/pagerduty-peer.js';
import type { SlackCall, SlackPeer, SlackPeerBehavior } from '../peers/slack-peer.js';
import type { ReceivedMail, SmtpPeer } from '../peers/smtp-peer.js';
import { type DelayProxy, startDelayProxy } from '../support/delay-proxy.js';
import { type Arrival, recordArrivals, scriptPeer } from '../support/peer-script.js';
import { exited, type RouterProcess, startRouterProcess } from '../support/processes.js';
import { eventually } from '../support/router.js';

/** Shared by the fault tests: peers, router processes, webhook traffic, and counting what arrived where. */

export const WEBHOOK_PATH = '/api/v1/webhooks/alertmanager';
export const WEBHOOK_TOKEN = 'fault-tests-webhook-token-0001';

/** Shipped routing (routing/routes.yaml): pages go to PagerDuty and the team's Slack, warnings to email and Slack. */
export const CHANNELS_BY_SEVERITY: Record<'critical' | 'warning', ChannelKind[]> = {
  critical: ['pagerduty', 'slack'],
  warning: ['email', 'slack'],
};

export { shippedRoutingWith } from '../support/routing-file.js';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- peers

export interface FaultPeerOptions {
  /** Behaviour of each Slack call as it arrives (default: answer normally). */
  slack?: (call: SlackCall, index: number) => SlackPeerBehavior;
  pagerduty?: (request: PagerDutyRequest, index: number) => PeerBehavior;
  /** Hold each channel's answers this long (a slow peer; see startDelayProxy). */
  delayMs?: Partial<Record<ChannelKind, number>>;
}

export interface FaultPeers {
  slack: SlackPeer;
  smtp: SmtpPeer;
  pagerduty: PagerDutyPeer;
  slackCalls: Array<Arrival<SlackCall, SlackPeerBehavior>>;
  pagerdutyEvents: Array<Arrival<PagerDutyRequest, PeerBehavior>>;
  mails: Array<{ at: number; record: ReceivedMail }>;
  /** Router settings that point its channels at these peers. */
  env: Record<string, string>;
  close(): Promise<void>;
}

const answerNormally = () => ({ kind: 'ok' }) as const;

export async function startFaultPeers(options: FaultPeerOptions = {}): Promise<FaultPeers> {
  const peers = await startChannelPeers();
  const { slack, smtp, pagerduty } = peers;
  const proxies: DelayProxy[] = [];
  const portOf = async (kind: ChannelKind, port: number) => {
    const delayMs = options.delayMs?.[kind];
    if (delayMs === undefined) return port;
    const proxy = await startDelayProxy(port, delayMs);
    proxies.push(proxy);
    return proxy.port;
  };
  const [slackPort, smtpPort, pagerdutyPort] = await Promise.all([
    portOf('slack', slack.port),
    portOf('email', smtp.port),
    portOf('pagerduty', pagerduty.port),
  ]);
  return {
    slack,
    smtp,
    pagerduty,
    slackCalls: scriptPeer(slack, options.slack ?? answerNormally),
    pagerdutyEvents: scriptPeer(pagerduty, options.pagerduty ?? answerNormally),
    mails: recordArrivals(smtp.received),
    // The peers' settings, with each port replaced by its delay proxy's where there is one.
    env: {
      ...peers.env,
      SLACK_API_URL: `http://127.0.0.1:${slackPort}/api/`,
      SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      PAGERDUTY_SERVER: `127.0.0.1:${pagerdutyPort}`,
    },
    close: async () => {
      await Promise.all(proxies.map((proxy) => proxy.close()));
      await peers.close();
    },
  };
}

// ---------------------------------------------------------------- routers

/** Everything a router process of these tests needs, on the test's own Redis. */
export function routerEnv(peers: FaultPeers, redisUrl: string, prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    WEBHOOK_TOKENS: WEBHOOK_TOKEN,
    // The PagerDuty peer's TLS certificate (vitest.config.ts puts it in the worker's environment).
    NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS!,
    DELIVERY_BACKOFF: '200ms',
    // Generous: on a busy machine a slow (delayed) peer must not look like a dead one. The hang test sets its own.
    DELIVERY_TIMEOUT: '20s',
    ...peers.env,
    ...extra,
  };
}

/** A router process, once /readyz says it can take webhooks. */
export async function startReadyRouter(env: Record<string, string>): Promise<RouterProcess> {
  const router = await startRouterProcess(env);
  await eventually(
    () =>
      fetch(`${router.url}/readyz`).then(
        (res) => res.ok,
        () => false,
      ),
    20_000,
    'router process to be ready',
  );
  return router;
}

/** For afterAll: a router still running after a failed test must not outlive it. */
export async function killIfRunning(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await exited(child);
}

/** Failed notification attempts as a router logged them (src/queue/sync-worker.ts), by `channel/reason`: {"email/timeout": 3}. */
export function failedAttempts(routerOutput: string): Record<string, number> {
  const failures: string[] = [];
  for (const line of routerOutput.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; reason?: string; channel?: string };
    if (entry.msg?.startsWith('notification failed')) failures.push(`${entry.channel}/${entry.reason}`);
  }
  return countValues(failures);
}

// ---------------------------------------------------------------- webhooks

export type WebhookOutcome = number | 'refused' | 'reset' | 'timeout';

export interface WebhookResult {
  payload: any;
  startedAt: number;
  endedAt: number;
  outcome: WebhookOutcome;
}

export async function postWebhook(url: string, payload: object): Promise<WebhookResult> {
  const startedAt = Date.now();
  let outcome: WebhookOutcome;
  try {
    const res = await fetch(`${url}${WEBHOOK_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${WEBHOOK_TOKEN}` },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(30_000),
    });
    await res.arrayBuffer();
    outcome = res.status;
  } catch (error) {
    outcome = networkOutcome(error);
  }
  return { payload, startedAt, endedAt: Date.now(), outcome };
}

function networkOutcome(error: unknown): WebhookOutcome {
  if ((error as Error).name === 'TimeoutError') return 'timeout';
  const code = (error as { cause?: { code?: string } }).cause?.code;
  return code === 'ECONNREFUSED' ? 'refused' : 'reset';
}

export interface WebhookStream {
  results: WebhookResult[];
  /** Stops taking new payloads and resolves once every sender is done (a retried payload included). */
  stop(): Promise<void>;
}

/**
 * `senders` Alertmanager-like senders, each posting one payload at a time. With `retry503`, a
 * payload answered 503 is sent again until the router takes it, as Alertmanager does.
 */
export function startWebhookStream(
  url: string,
  options: { senders: number; payload: (n: number) => object; retry503?: boolean; pauseMs?: number },
): WebhookStream {
  const results: WebhookResult[] = [];
  const pauseMs = options.pauseMs ?? 20;
  let next = 0;
  let stopping = false;
  const sender = async () => {
    while (!stopping) {
      const payload = options.payload(next++);
      for (;;) {
        const result = await postWebhook(url, payload);
        results.push(result);
        if (!(options.retry503 && result.outcome === 503)) break;
        await sleep(pauseMs * 5);
      }
      await sleep(pauseMs);
    }
  };
  const senders = Array.from({ length: options.senders }, sender);
  return {
    results,
    stop: async () => {
      stopping = true;
      await Promise.all(senders);
    },
  };
}

/** How often each value occurs: {"202": 40, "503": 12, refused: 3}. */
export function countValues(values: Iterable<unknown>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[String(value)] = (counts[String(value)] ?? 0) + 1;
  return counts;
}

export const outcomesOf = (results: WebhookResult[]) => countValues(results.map((result) => result.outcome));

// ---------------------------------------------------------------- counting notifications

/**
 * One notification: `${channel} ${instance} ${what}`. The fault tests send alerts without an SLO, so
 * each alert is an incident of its own and is told apart by its `instance` label. `what` is
 * `firing` (the first notification: the Slack message, the first mail of the thread, the PagerDuty
 * trigger), `resolved` (the thread reply, the reply mail, the PagerDuty resolve), or the decision of
 * any other notification (escalated, reminder_due, ...), which no fault test expects.
 */
export type NotificationKey = string;

const keyOf = (channel: ChannelKind, instance: string, what: string): NotificationKey => `${channel} ${instance} ${what}`;

/** What each payload's alerts should produce under the shipped routing, one incident per alert. */
export function expectedNotifications(payloads: any[]): Set<NotificationKey> {
  const keys = new Set<NotificationKey>();
  for (const payload of payloads) {
    for (const alert of payload.alerts) {
      for (const channel of CHANNELS_BY_SEVERITY[alert.labels.severity as 'critical' | 'warning']) {
        keys.add(keyOf(channel, alert.labels.instance, alert.status));
      }
    }
  }
  return keys;
}

const INSTANCE = /instance(?:=|":")([A-Za-z0-9.-]+)/;
/** The `instance` label of the alert a request or message is about, if it names one. */
export const instanceIn = (value: unknown): string | undefined => INSTANCE.exec(JSON.stringify(value))?.[1];

interface SlackMetadataArgs {
  event_type?: string;
  event_payload?: { incident_id?: string; decision?: string };
}
const slackMetadata = (call: SlackCall): SlackMetadataArgs => (call.args.metadata ?? {}) as SlackMetadataArgs;

/** What a mail says happened, from its first line (src/notifiers/email/message.ts). */
function mailWhat(text: string): string {
  const lead = text.split('\n', 1)[0] ?? '';
  if (lead.startsWith('New incident')) return 'firing';
  if (lead.startsWith('Resolved.')) return 'resolved';
  return lead.replace(/[^A-Za-z]+/g, '_');
}

interface Received {
  /** Requests the peer acted on: posts and replies, mails, PagerDuty events. */
  sends: number;
  /** What a person sees: Slack messages and replies, mails, PagerDuty incidents (distinct dedup_keys). */
  distinct: Set<string>;
}

/** What reached the peers, per notification; chat.update (an edit in place) and look-ups are not notifications. */
export function receivedNotifications(peers: FaultPeers): Map<NotificationKey, Received> {
  const received = new Map<NotificationKey, Received>();
  const add = (key: NotificationKey, copy: string) => {
    const entry = received.get(key) ?? { sends: 0, distinct: new Set<string>() };
    entry.sends += 1;
    entry.distinct.add(copy);
    received.set(key, entry);
  };
  // Slack: the message names the alert; its thread replies name only the incident (metadata).
  const slackInstances = new Map<string, string>();
  const answered = peers.slackCalls.filter(({ behavior }) => behavior.kind === 'ok');
  for (const { record } of answered) {
    const incident = slackMetadata(record).event_payload?.incident_id;
    const instance = instanceIn(record.args);
    if (record.method === 'chat.postMessage' && record.args.thread_ts === undefined && incident && instance) slackInstances.set(incident, instance);
  }
  answered.forEach(({ record }, index) => {
    if (record.method !== 'chat.postMessage') return;
    const { event_payload: payload } = slackMetadata(record);
    if (record.args.thread_ts === undefined) {
      const instance = instanceIn(record.args);
      if (instance) add(keyOf('slack', instance, 'firing'), `message ${index}`);
      return;
    }
    const instance = slackInstances.get(payload?.incident_id ?? '');
    if (instance) add(keyOf('slack', instance, payload?.decision ?? 'reply'), `reply ${index}`);
  });
  // A mail sent twice keeps its Message-ID, yet lands in the inbox twice: each one counts.
  peers.mails.forEach(({ record }, index) => {
    const text = record.parsed.text ?? '';
    const instance = instanceIn(text);
    if (instance) add(keyOf('email', instance, mailWhat(text)), `mail ${index}`);
  });
  // PagerDuty: the trigger names the alert; the resolve only its dedup_key.
  const pagerdutyInstances = new Map<string, string>();
  for (const { record, behavior } of peers.pagerdutyEvents) {
    if (behavior.kind !== 'ok') continue;
    const { event } = record;
    const instance = event.event_action === 'trigger' ? instanceIn(event.payload?.custom_details?.Labels) : pagerdutyInstances.get(event.dedup_key);
    if (!instance) continue;
    pagerdutyInstances.set(event.dedup_key, instance);
    add(keyOf('pagerduty', instance, event.event_action === 'resolve' ? 'resolved' : 'firing'), event.dedup_key);
  }
  return received;
}

export interface Tally {
  expected: number;
  /** Expected notifications that arrived at least once. */
  delivered: number;
  lost: number;
  /** Sends beyond the first (a retried job that had already gone out). */
  resent: number;
  /** Second Slack messages, second mails, second PagerDuty incidents: what a person would see twice. */
  duplicates: number;
  /** Notifications that arrived but were never expected. */
  unexpected: number;
  /** Keys of the lost, resent and unexpected ones, for assertion messages. */
  lostKeys: NotificationKey[];
  resentKeys: NotificationKey[];
  unexpectedKeys: NotificationKey[];
}

export function tally(peers: FaultPeers, expected: Set<NotificationKey>): Tally {
  const received = receivedNotifications(peers);
  const lostKeys = [...expected].filter((key) => !received.has(key));
  const resentKeys = [...received].filter(([, r]) => r.sends > 1).map(([key]) => key);
  const unexpectedKeys = [...received.keys()].filter((key) => !expected.has(key));
  let resent = 0;
  let duplicates = 0;
  for (const r of received.values()) {
    resent += r.sends - 1;
    duplicates += r.distinct.size - 1;
  }
  return {
    expected: expected.size,
    delivered: expected.size - lostKeys.length,
    lost: lostKeys.length,
    resent,
    duplicates,
    unexpected: unexpectedKeys.length,
    lostKeys,
    resentKeys,
    unexpectedKeys,
  };
}

/** Waits until every expected notification has reached its peer. */
export async function allDelivered(peers: FaultPeers, expected: Set<NotificationKey>, timeoutMs: number): Promise<void> {
  await eventually(() => tally(peers, expected).lost === 0, timeoutMs, `all ${expected.size} notifications to reach the peers`).catch((error: Error) => {
    const { lostKeys } = tally(peers, expected);
    throw new Error(`${error.message}; still missing ${lostKeys.length}: ${lostKeys.slice(0, 10).join(', ')}`);
  });
}

// ---------------------------------------------------------------- queues

/** Read-only look at the router's queues (stored webhooks and syncs) in the test's Redis. */
export class QueueInspector {
  private readonly redis: Redis;
  private readonly queues: Queue[];

  constructor(redisUrl: string, prefix: string) {
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
    // Some tests kill Redis on purpose; the inspector waits for it like the router does.
    this.redis.on('error', () => {});
    // The router's own queue classes, so the inspector names the keys as the router does (hash tags included).
    this.queues = [openIngestQueue(this.redis, prefix), ...new SyncQueues(this.redis, prefix, { attempts: 1, backoffMs: 1 }).all()];
  }

  /** Ids of what a worker holds right now (or held when its process died): stored webhooks and sync jobs. */
  async active(): Promise<Record<string, string[]>> {
    const entries = await Promise.all(this.queues.map(async (queue) => [queue.name, (await queue.getActive()).map((job) => job.id!)] as const));
    return Object.fromEntries(entries);
  }

  /** What a job carries (a sync's incident and receiver; a stored webhook's body). */
  async data(queueName: string, id: string): Promise<unknown> {
    return (await this.queues.find((queue) => queue.name === queueName)!.getJob(id))?.data;
  }

  /** bullmq's name for the state of a sync job or of a stored webhook ('completed' once removed: processed webhooks are not kept). */
  async state(queueName: string, id: string): Promise<string> {
    const state = await this.queues.find((queue) => queue.name === queueName)!.getJobState(id);
    return queueName === INGEST_QUEUE && state === 'unknown' ? 'completed' : state;
  }

  /** True when no webhook and no sync waits, runs or is scheduled for a retry (or deferred: Slack's spaced updates). */
  async idle(): Promise<boolean> {
    const counts = await Promise.all(this.queues.map((queue) => queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized')));
    return counts.every((count) => Object.values(count).every((n) => n === 0));
  }

  /** Stored webhooks and sync jobs given up on. */
  async deadLetters(): Promise<number> {
    const counts = await Promise.all(this.queues.map((queue) => queue.getFailedCount()));
    return counts.reduce((a, b) => a + b, 0);
  }

  async close(): Promise<void> {
    await Promise.all(this.queues.map((queue) => queue.close()));
    this.redis.disconnect();
  }
}

// ---------------------------------------------------------------- figures

/** One stable line per fault test, for docs/RELIABILITY.md: `FAULT-FIGURES {"fault":...}`. */
export function reportFigures(fault: string, figures: Record<string, unknown>): void {
  console.log(`FAULT-FIGURES ${JSON.stringify({ fault, ...figures })}`);
}
