import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RoutingConfigError } from '../../src/routing/errors.js';
import { maskSecret, type ReloadResult, RoutingStore } from '../../src/routing/store.js';

const routesTo = (receiver: string, extra = '') => `receivers:
  - name: ops-slack
    slack: { channel: "#ops" }
  - name: oncall
    pagerduty: { routing_key: "\${PD_KEY}" }
routes:
  - name: pages
    matchers: ['severity="critical"']
    receivers: [${receiver}]
default_receivers: [ops-slack]
${extra}`;
const env = { PD_KEY: 'R0123456789ABCDEF0123456789ABCD1' };

let dir: string;
let file: string;
let reloads: ReloadResult[];
let store: RoutingStore | undefined;

const open = () => {
  store = new RoutingStore(file, env, { onReload: (result) => reloads.push(result), debounceMs: 50 });
  return store;
};
const pageReceivers = (s: RoutingStore) => s.current().routes[0]!.receivers;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'routing-store-'));
  file = join(dir, 'routes.yaml');
  writeFileSync(file, routesTo('oncall'));
  reloads = [];
});

afterEach(() => {
  store?.close();
  store = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('RoutingStore', () => {
  it('loads at construction, with the sha256 of the text and the load time, reporting nothing', () => {
    const before = Date.now();
    const s = open();
    expect(pageReceivers(s)).toEqual(['oncall']);
    expect(s.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(s.loadedAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(reloads).toEqual([]);
  });

  it('refuses to start on a bad file, with the one-line message', () => {
    writeFileSync(file, routesTo('ops-pager'));
    expect(() => open()).toThrow(new RoutingConfigError(`${file}:9:17: routes[0].receivers[0]: undefined receiver "ops-pager"`));
  });

  it('swaps in a good edit on reload', () => {
    const s = open();
    const oldHash = s.hash;
    writeFileSync(file, routesTo('ops-slack'));
    const result = s.reload();
    expect(result.ok).toBe(true);
    expect(pageReceivers(s)).toEqual(['ops-slack']);
    expect(s.hash).not.toBe(oldHash);
    expect(reloads).toEqual([result]);
    expect(result).toMatchObject({ ok: true, hash: s.hash, config: s.current() });
  });

  it('keeps the running config when the edit is bad, and says why', () => {
    const s = open();
    const running = s.current();
    const runningHash = s.hash;
    writeFileSync(file, routesTo('ops-pager'));
    const result = s.reload();
    expect(result).toEqual({
      ok: false,
      error: new RoutingConfigError(`${file}:9:17: routes[0].receivers[0]: undefined receiver "ops-pager"`),
    });
    expect(s.current()).toBe(running);
    expect(s.hash).toBe(runningHash);
    expect(reloads).toEqual([result]);
  });

  it('keeps the running config when the file disappears', () => {
    const s = open();
    rmSync(file);
    const result = s.reload();
    expect(result).toEqual({ ok: false, error: new RoutingConfigError(`${file}: cannot read the routing file (ENOENT)`) });
    expect(pageReceivers(s)).toEqual(['oncall']);
  });

  it('watch: picks up a file replaced by rename, as editors save', async () => {
    const s = open();
    s.watch();
    const temp = join(dir, '.routes.yaml.swp');
    writeFileSync(temp, routesTo('ops-slack'));
    renameSync(temp, file);
    await vi.waitFor(() => expect(pageReceivers(s)).toEqual(['ops-slack']), { timeout: 5_000 });
    expect(reloads.map((r) => r.ok)).toEqual([true]);
  });

  it('watch: picks up an in-place write; a bad one is refused once; unchanged content causes no reload', async () => {
    const s = open();
    s.watch();
    writeFileSync(file, routesTo('ops-pager'));
    await vi.waitFor(() => expect(reloads).toHaveLength(1), { timeout: 5_000 });
    expect(reloads[0]!.ok).toBe(false);
    expect(pageReceivers(s)).toEqual(['oncall']);

    writeFileSync(file, readFileSync(file, 'utf8')); // the same bad text again: nothing new to try
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(reloads).toHaveLength(1);

    writeFileSync(file, routesTo('ops-slack'));
    await vi.waitFor(() => expect(pageReceivers(s)).toEqual(['ops-slack']), { timeout: 5_000 });
    expect(reloads.map((r) => r.ok)).toEqual([false, true]);
  });

  it('stops watching on close', async () => {
    const s = open();
    s.watch();
    s.close();
    writeFileSync(file, routesTo('ops-slack'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(reloads).toEqual([]);
    expect(pageReceivers(s)).toEqual(['oncall']);
  });

  it('maskedConfig: JSON-friendly, matchers as text, routing keys masked', () => {
    const s = open();
    const masked = s.maskedConfig();
    expect(masked).toMatchObject({ file, hash: s.hash, loadedAt: s.loadedAt.toISOString(), defaultReceivers: ['ops-slack'] });
    expect(masked.receivers[1]).toEqual({ name: 'oncall', kind: 'pagerduty', pagerduty: { routingKey: '****BCD1' } });
    expect(masked.routes[0]!.matchers).toEqual(['severity="critical"']);
    expect(JSON.stringify(masked)).not.toContain(env.PD_KEY);
  });
});

describe('maskSecret', () => {
  it.each([
    ['R0123456789ABCDEF0123456789ABCD1', '****BCD1'],
    ['0123456789abcdef', '****cdef'],
    ['short-key', '****'],
    ['', '****'],
  ])('%s -> %s', (secret, masked) => {
    expect(maskSecret(secret)).toBe(masked);
  });
});
