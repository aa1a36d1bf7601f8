import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCookies, SessionStore, sessionCookie } from '../../src/ui/access.js';
import { javascriptBytes, loadAssets } from '../../src/ui/assets.js';
import { keepOrder, sortIncidents } from '../../src/ui/model.js';
import { sparkline } from '../../src/ui/sparkline.js';
import { cleanRedis, REDIS_URL, testPrefix } from '../support/router.js';

describe('sessions in Redis', () => {
  const prefix = testPrefix();
  const redis = new Redis(REDIS_URL);
  afterAll(async () => {
    await cleanRedis(prefix);
    redis.disconnect();
  });

  it('keeps a digest of the id, with the expiry as the key TTL; an unknown or malformed id is no session', async () => {
    const store = new SessionStore(redis, prefix, 60_000);
    const { id, session } = await store.create('viewer', 'Val');
    expect(session.csrf).toMatch(/^[\w-]{43}$/);
    const keys = await redis.keys(`${prefix}:ui:session:*`);
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toContain(id);
    expect(await redis.pttl(keys[0]!)).toBeGreaterThan(55_000);
    expect((await store.get(id))?.role).toBe('viewer');
    expect(await store.get('x'.repeat(43))).toBeNull();
    expect(await store.get('../../etc')).toBeNull();
    await store.destroy(id);
    expect(await store.get(id)).toBeNull();
  });

  it('writes an HttpOnly, SameSite=Strict cookie, Secure when asked', () => {
    expect(sessionCookie('abc', 3_600_000, false)).toBe('alertcenter_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600');
    expect(sessionCookie('abc', 3_600_000, true)).toMatch(/; Secure$/);
    expect(parseCookies('a=1; alertcenter_session=xyz; a=2')).toEqual({ a: '1', alertcenter_session: 'xyz' });
  });
});

describe('the page', () => {
  it('sends the browser less than 60 KB of gzipped JavaScript', () => {
    const bytes = javascriptBytes(loadAssets());
    expect(bytes).toBeGreaterThan(10_000);
    expect(bytes).toBeLessThan(60 * 1024);
  });

  it('keeps the rows shown in their order and puts new ones after them', () => {
    const rows = ['new', 'b', 'a', 'c'].map((id) => ({ id }));
    expect(keepOrder(rows, ['a', 'b', 'gone']).map((row) => row.id)).toEqual(['a', 'b', 'new', 'c']);
    expect(keepOrder(rows, []).map((row) => row.id)).toEqual(['new', 'b', 'a', 'c']);
  });

  it('sorts open incidents first, critical before warning, then newest', () => {
    const incident = (id: string, state: string, severity: string, openedAt: string) => ({ id, state, severity, openedAt }) as any;
    const sorted = sortIncidents([
      incident('resolved-new', 'resolved', 'critical', '2026-12-07T12:00:00Z'),
      incident('warning', 'open', 'warning', '2026-12-07T11:00:00Z'),
      incident('critical-old', 'open', 'critical', '2026-12-07T10:00:00Z'),
      incident('resolving', 'resolving', 'critical', '2026-12-07T10:30:00Z'),
    ]);
    expect(sorted.map((i) => i.id)).toEqual(['resolving', 'critical-old', 'warning', 'resolved-new']);
  });

  it('draws a sparkline as SVG with only presentation attributes', () => {
    const svg = sparkline([1, 0.8, 0.5, 0.2], { label: 'budget <left>' });
    expect(svg).toMatch(/^<svg /);
    expect(svg).not.toMatch(/style=/);
    expect(svg).toContain('aria-label="budget &lt;left>"');
    expect(sparkline([1], { label: 'x' })).toBe('');
  });
});

describe('the page settings', () => {
  it('default to no viewers, 12h sessions, Secure over TLS, no Prometheus; bad values name the setting', async () => {
    const { loadConfig, secretsOf } = await import('../../src/config/env.js');
    const config = loadConfig({});
    expect(config.ui).toEqual({ viewerTokens: [], sessionTtlMs: 12 * 3_600_000, cookieSecure: 'auto', prometheusUrl: undefined, slackWorkspaceUrl: undefined });
    const set = loadConfig({ VIEWER_TOKENS: ' v1 , v2 ', SESSION_TTL: '30m', COOKIE_SECURE: 'always', PROMETHEUS_URL: 'http://u:p4ss@127.0.0.1:9090' });
    expect(set.ui.viewerTokens).toEqual(['v1', 'v2']);
    expect(set.ui.sessionTtlMs).toBe(1_800_000);
    expect(secretsOf(set)).toEqual(expect.arrayContaining(['v1', 'v2', 'p4ss']));
    expect(() => loadConfig({ COOKIE_SECURE: 'yes' })).toThrow(/^COOKIE_SECURE: /);
    expect(() => loadConfig({ SESSION_TTL: '10s' })).toThrow(/^SESSION_TTL: expected a duration of at least 1m/);
    expect(() => loadConfig({ PROMETHEUS_URL: 'ftp://x' })).toThrow(/^PROMETHEUS_URL: /);
  });
});
