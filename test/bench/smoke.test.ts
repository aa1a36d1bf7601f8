import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
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
