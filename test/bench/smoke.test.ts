import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { exited } from '../support/processes.js';

/**
 * Keeps `npm run bench` working: its 2-second smoke version must complete and deliver every
 * notification exactly once. Speed is never asserted here (CI machines differ, and so does load).
 */
describe('npm run bench -- --smoke', () => {
  it('completes and delivers every end-to-end notification exactly once', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--smoke'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

    expect(await exited(child), stderr).toBe(0);
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(report.smoke).toBe(true);
    expect(report.e2e.expected).toBeGreaterThan(0);
    expect(report.e2e.deliveredRatio).toBe(1);
    expect(report.e2e.duplicates).toBe(0);
    expect(report.e2e.unexpected).toBe(0);
  }, 300_000);
});
