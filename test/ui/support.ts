import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

/** Debian's Chromium, which `.ci/run` installs; the browser tests skip (saying so) without it. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
export const skipNote = hasChromium ? '' : ` (skipped: ${CHROMIUM} not installed; apt-get install chromium)`;

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A headless Chromium with a fresh profile of its own, removed on close. */
export async function launchBrowser(viewport = { width: 1280, height: 800 }): Promise<Browser> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'alertcenter-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A stand-in for Prometheus's query API with the SLO recording rules: a budget remaining and a 5m
 * error ratio per SLO, and a budget history falling over the last week.
 */
export async function startFakePrometheus(
  figures: Record<string, { budget: number; errorRatio: number }>,
): Promise<{ url: string; queries: string[]; close(): Promise<void> }> {
  const queries: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const params = new URLSearchParams(body || (req.url?.split('?')[1] ?? ''));
      const query = params.get('query') ?? '';
      queries.push(`${req.url?.split('?')[0]} ${query}`);
      const now = Math.floor(Date.now() / 1000);
      const entries = Object.entries(figures);
      let result: unknown[];
      if (req.url?.startsWith('/api/v1/query_range')) {
        result = entries.map(([slo, f]) => ({
          metric: { __name__: query, slo },
          values: Array.from({ length: 40 }, (_, i) => [now - (39 - i) * 4 * 3600, String(1 - ((1 - f.budget) * i) / 39 + 0.02 * Math.sin(i))]),
        }));
      } else if (query === 'slo:error_budget_remaining:ratio') {
        result = entries.map(([slo, f]) => ({ metric: { slo }, value: [now, String(f.budget)] }));
      } else if (query === 'slo:sli_error:ratio_rate5m') {
        result = entries.map(([slo, f]) => ({ metric: { slo }, value: [now, String(f.errorRatio)] }));
      } else result = [];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'success', data: { resultType: req.url?.startsWith('/api/v1/query_range') ? 'matrix' : 'vector', result } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    queries,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
