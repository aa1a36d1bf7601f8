import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { groupsOf } from '../../bench/payloads.js';
import type { Receipt } from '../../bench/peers.js';
import { accountStorm, type ListedIncident, mailThreadOf, planStorm, type SentWebhook } from '../../bench/storm.js';
import { hasAlertmanager } from '../support/alertmanager.js';
import { exited } from '../support/processes.js';

/**
 * Keeps `npm run bench` working: its smoke version must complete, Alertmanager's and the router's
 * ingest must be measured with every backlog drained, and the storm must leave exactly one incident,
 * one page, one Slack message and one mail thread per incident key. Speed is never asserted here
 * (CI machines differ, and so does their load).
 */
describe('npm run bench -- --smoke', () => {
  it('completes; the storm gives each incident exactly one page, Slack message and mail thread', async () => {
    const env = { ...process.env, ...(hasAlertmanager ? {} : { BENCH_PHASES: 'ceiling,single,split,storm' }) };
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--smoke'], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

    expect(await exited(child), stderr).toBe(0);
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(report.smoke).toBe(true);
    if (hasAlertmanager) expect(report.alertmanager.requestsPerSecond).toBeGreaterThan(0);
    for (const deployment of ['single', 'split']) {
      const ingest = report.ingest[deployment];
      expect(ingest.non2xx + ingest.errors, deployment).toBe(0);
      expect(ingest.backlog.ingestDrainedMs, deployment).not.toBeNull();
      expect(ingest.backlog.syncsIdleMs, deployment).not.toBeNull();
    }
    const { storm } = report;
    expect(storm.non2xx).toBe(0);
    expect(storm.account.deviations).toEqual({});
    expect(storm.account.exactGroups).toBe(storm.account.groups);
    expect(storm.account.unmatched).toBe(0);
    expect(storm.account.firstPageMs.paged).toBe(storm.account.groups);
    expect(storm.settledMs).not.toBeNull();
  }, 300_000);
});

describe('npm run bench:queue-floor -- --webhooks 300', () => {
  it('stores and takes every webhook, and reports the CPU of each side', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/queue-floor.ts', '--webhooks', '300'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

    expect(await exited(child), stderr).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.webhooks).toBe(300);
    expect(report.leftInQueue).toBe(0);
    for (const side of ['store', 'take']) {
      expect(report[side].perSecond, side).toBeGreaterThan(0);
      expect(report[side].nodeUs, side).toBeGreaterThan(0);
    }
  }, 60_000);
});

/** The storm's accounting decides its verdict: it must see a second page, post or thread, and a receipt of no incident. */
describe('bench storm accounting', () => {
  const plan = planStorm(groupsOf(3), 120, 1);
  const sent: SentWebhook[] = plan.webhooks.map((webhook) => ({ n: webhook.n, status: 202, latencyMs: 1, answeredAt: 1_000 + webhook.atMs }));
  const incidents: ListedIncident[] = plan.groups.map((group, g) => ({
    id: `id-${g}`,
    slo: group.slo,
    service: group.service,
    severity: 'critical',
    state: 'open',
  }));
  const firstCritical = (g: number) => sent[plan.webhooks.find((webhook) => webhook.group === g && webhook.severity === 'critical')!.n]!.answeredAt;
  const page = (g: number, at: number, id = `id-${g}`): Receipt => ({
    channel: 'pagerduty',
    at,
    action: 'trigger',
    dedupKey: `alertcenter/incident/${id}`,
    severity: 'critical',
    component: null,
    group: null,
  });
  const post = (g: number): Receipt => ({ channel: 'slack', at: 0, method: 'chat.postMessage', threadTs: null, incidentId: `id-${g}` });
  const mail = (g: number, reply = false): Receipt => {
    const thread = `<alertcenter.${mailThreadOf(`id-${g}`, 'ops-email')}.1@maestro.example>`;
    return reply
      ? { channel: 'email', at: 0, messageId: `<alertcenter.${mailThreadOf(`id-${g}`, 'ops-email')}.2@maestro.example>`, inReplyTo: thread }
      : { channel: 'email', at: 0, messageId: thread, inReplyTo: null };
  };
  const exact = [0, 1, 2].flatMap((g) => [page(g, firstCritical(g) + 100 * (g + 1)), post(g), mail(g), mail(g, true)]);

  it('plans warnings first, then criticals, for every group', () => {
    expect(plan.webhooks).toHaveLength(12);
    for (const g of [0, 1, 2]) {
      const severities = plan.webhooks.filter((webhook) => webhook.group === g).map((webhook) => webhook.severity);
      expect(severities[0]).toBe('warning');
      expect(severities.at(-1)).toBe('critical');
      expect(severities.indexOf('critical')).toBe(severities.lastIndexOf('warning') + 1);
    }
  });

  it('counts exactly one of each, and the time from the first critical 202 to the page', () => {
    const account = accountStorm(plan, sent, exact, incidents, 'ops-email');
    expect(account).toMatchObject({ exactGroups: 3, unmatched: 0, mails: 6, deviations: {} });
    expect(account.firstPageMs).toEqual({ p50: 200, p99: 300, max: 300, paged: 3 });
  });

  it('sees a second page, a second Slack message, a second mail thread, and arrivals of no incident', () => {
    const extra: Receipt[] = [
      page(0, 0, 'id-0b'),
      post(1),
      mail(2),
      { channel: 'slack', at: 0, method: 'chat.postMessage', threadTs: null, incidentId: 'nobody' },
    ];
    const account = accountStorm(plan, sent, [...exact, ...extra], [...incidents, { ...incidents[0]!, id: 'id-0b' }], 'ops-email');
    expect(account.exactGroups).toBe(0);
    expect(account.unmatched).toBe(1);
    expect(Object.values(account.deviations)).toEqual([
      { incidents: 2, pages: 2, slackPosts: 1, mailThreads: 1 },
      { incidents: 1, pages: 1, slackPosts: 2, mailThreads: 1 },
      { incidents: 1, pages: 1, slackPosts: 1, mailThreads: 2 },
    ]);
  });
});
