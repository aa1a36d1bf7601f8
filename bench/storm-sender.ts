import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { WEBHOOK_PATH } from '../src/api/routes/webhook.js';
import { seedOf, stormBody } from './payloads.js';
import type { SentWebhook, StormPlan } from './storm.js';

/**
 * Sends a storm plan's webhooks at their planned times, open loop (a slow answer never delays the
 * next send), over at most 32 keep-alive connections as Alertmanager's would be, in a process of
 * its own: it never shares an event loop with the bench's accounting or the router.
 */
export interface StormRequest {
  url: string;
  token: string;
  plan: StormPlan;
  seedPrefix: string;
}

export interface StormSent {
  webhooks: SentWebhook[];
  /** Epoch ms of the first send and of the last answer. */
  startedAt: number;
  endedAt: number;
  cpuCores: number;
}

const now = () => performance.timeOrigin + performance.now();

async function send({ url, token, plan, seedPrefix }: StormRequest): Promise<StormSent> {
  const body = stormBody(plan.groups);
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  const cpu = process.cpuUsage();
  const started = performance.now();
  const startedAt = now();
  const sends: Array<Promise<SentWebhook>> = [];
  for (const webhook of plan.webhooks) {
    const due = started + webhook.atMs - performance.now();
    if (due > 0) await sleep(due);
    sends.push(post(`${url}${WEBHOOK_PATH}`, token, agent, webhook.n, body(webhook.group, webhook.severity, seedOf(seedPrefix, webhook.n))));
  }
  const webhooks = await Promise.all(sends);
  const endedAt = now();
  const { user, system } = process.cpuUsage(cpu);
  agent.destroy();
  return { webhooks, startedAt, endedAt, cpuCores: Math.round(((user + system) / 1000 / (endedAt - startedAt)) * 100) / 100 };
}

function post(url: string, token: string, agent: Agent, n: number, body: string): Promise<SentWebhook> {
  return new Promise((resolve, reject) => {
    const sentAt = performance.now();
    const req = request(url, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` },
    });
    req.once('response', (res) => {
      res.resume();
      res.once('end', () => {
        const answeredAt = now();
        resolve({ n, status: res.statusCode ?? 0, latencyMs: performance.now() - sentAt, answeredAt });
      });
    });
    req.once('error', reject);
    req.end(body);
  });
}

process.once('message', (request: StormRequest) => {
  send(request).then(
    (result) => process.send!(result, () => process.exit(0)),
    (error: Error) => process.send!({ error: error.message }, () => process.exit(1)),
  );
});
