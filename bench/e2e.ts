import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { WEBHOOK_PATH } from '../src/api/routes/webhook.js';
import type { ChannelKind } from '../src/notifiers/types.js';
import { ALERTS_PER_WEBHOOK, instanceOf, seedOf, severityOf, webhookBody, type BenchSeverity } from './payloads.js';
import type { Receipt } from './peers.js';
import { percentile, round } from './stats.js';

/** Shipped routing (routing/routes.yaml): who must receive an alert of each severity. */
const CHANNELS_BY_SEVERITY: Record<BenchSeverity, ChannelKind[]> = {
  warning: ['email', 'slack'],
  critical: ['pagerduty', 'slack'],
};

const CHANNELS: readonly ChannelKind[] = ['slack', 'email', 'pagerduty'];

const now = () => performance.timeOrigin + performance.now();

export interface SentWebhook {
  seed: string;
  severity: BenchSeverity;
  status: number;
  /** Epoch ms at which the router's answer arrived. */
  answeredAt: number;
}

export interface SteadyLoad {
  url: string;
  token: string;
  alertsPerSecond: number;
  durationSeconds: number;
  seedPrefix: string;
}

/** Posts webhooks at a steady rate (open loop: a slow answer never delays the next send). */
export async function sendSteadily(load: SteadyLoad): Promise<SentWebhook[]> {
  const perSecond = load.alertsPerSecond / ALERTS_PER_WEBHOOK;
  const count = Math.round(perSecond * load.durationSeconds);
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  const started = performance.now();
  const sends: Array<Promise<SentWebhook>> = [];
  for (let n = 0; n < count; n++) {
    const due = started + (n * 1000) / perSecond - performance.now();
    if (due > 0) await sleep(due);
    sends.push(post(load, agent, n));
  }
  const sent = await Promise.all(sends);
  agent.destroy();
  return sent;
}

function post(load: SteadyLoad, agent: Agent, n: number): Promise<SentWebhook> {
  const body = webhookBody(load.seedPrefix, n);
  return new Promise((resolve, reject) => {
    const req = request(`${load.url}${WEBHOOK_PATH}`, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${load.token}` },
    });
    req.once('response', (res) => {
      const answeredAt = now();
      res.resume();
      res.once('end', () => resolve({ seed: seedOf(load.seedPrefix, n), severity: severityOf(n), status: res.statusCode ?? 0, answeredAt }));
    });
    req.once('error', reject);
    req.end(body);
  });
}

export interface DeliveryAccount {
  /** Notifications the shipped routing owes for the accepted webhooks. */
  expected: number;
  /** Expected notifications that arrived at least once. */
  delivered: number;
  /** Arrivals beyond the first of one notification. */
  duplicates: number;
  /** Arrivals that no accepted webhook asked for (wrong channel, unknown alert). */
  unexpected: number;
  latencyMs: LatencySummary;
  /** Where the time goes: each channel has its own queue, workers and peer. */
  latencyMsByChannel: Record<ChannelKind, LatencySummary>;
}

export interface LatencySummary {
  p50: number;
  p99: number;
  max: number;
}

const summary = (values: number[]): LatencySummary => ({
  p50: round(percentile(values, 50)),
  p99: round(percentile(values, 99)),
  max: round(percentile(values, 100)),
});

/** Matches every arrival to the notification it carries, exactly: each (channel, alert) once. */
export function account(sent: readonly SentWebhook[], receipts: readonly Receipt[]): DeliveryAccount {
  const answeredAt = new Map<string, number>();
  for (const webhook of sent) {
    if (webhook.status !== 202) continue;
    for (let i = 0; i < ALERTS_PER_WEBHOOK; i++) {
      for (const channel of CHANNELS_BY_SEVERITY[webhook.severity]) answeredAt.set(`${channel}:${instanceOf(webhook.seed, i)}`, webhook.answeredAt);
    }
  }
  const arrivals = new Map<string, number[]>();
  let unexpected = 0;
  for (const receipt of receipts) {
    const key = `${receipt.channel}:${receipt.instance}`;
    if (receipt.instance === null || !answeredAt.has(key)) {
      unexpected += 1;
      continue;
    }
    arrivals.set(key, [...(arrivals.get(key) ?? []), receipt.at]);
  }
  const latencies = new Map<ChannelKind, number[]>(CHANNELS.map((channel) => [channel, []]));
  let duplicates = 0;
  for (const [key, times] of arrivals) {
    latencies.get(key.slice(0, key.indexOf(':')) as ChannelKind)!.push(Math.min(...times) - answeredAt.get(key)!);
    duplicates += times.length - 1;
  }
  return {
    expected: answeredAt.size,
    delivered: arrivals.size,
    duplicates,
    unexpected,
    latencyMs: summary([...latencies.values()].flat()),
    latencyMsByChannel: Object.fromEntries(CHANNELS.map((channel) => [channel, summary(latencies.get(channel)!)])) as Record<ChannelKind, LatencySummary>,
  };
}

/** What the routing owes for `sent`, counted the same way as `account` does. */
export function expectedNotifications(sent: readonly SentWebhook[]): number {
  return sent.filter((webhook) => webhook.status === 202).reduce((sum, webhook) => sum + ALERTS_PER_WEBHOOK * CHANNELS_BY_SEVERITY[webhook.severity].length, 0);
}
