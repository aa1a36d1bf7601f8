import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routingFile } from '../support/incident-webhooks.js';
import { cleanRedis, startTestRouter, type TestRouter } from '../support/router.js';

describe('signing in to the page (without a browser)', () => {
  let open: TestRouter;
  let locked: TestRouter;
  beforeAll(async () => {
    [open, locked] = await Promise.all([
      startTestRouter({ ROUTING_FILE: routingFile() }),
      startTestRouter({ ROUTING_FILE: routingFile(), ADMIN_TOKEN: 'admin-token-of-the-login-test-0000', ROLE: 'api' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([open?.stop(), locked?.stop()]);
    await Promise.all([cleanRedis(open.prefix), cleanRedis(locked.prefix)]);
  });

  it('without ADMIN_TOKEN (loopback only) any token signs in as operator, and the form says so', async () => {
    const form = await request(open.server).get('/login');
    expect(form.text).toContain('any token signs in as an operator');
    const res = await request(open.server).post('/login').type('form').send({ token: 'anything', name: 'Dev' });
    expect(res.status).toBe(303);
    const cookie = res.headers['set-cookie']![0]!.split(';')[0]!;
    const page = await request(open.server).get('/').set('Cookie', cookie);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Dev · operator');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
  });

  it('marks the cookie Secure behind a TLS proxy, and only then', async () => {
    const proxied = await request(locked.server)
      .post('/login')
      .set('X-Forwarded-Proto', 'https')
      .type('form')
      .send({ token: 'admin-token-of-the-login-test-0000' });
    expect(proxied.headers['set-cookie']![0]).toMatch(/; HttpOnly; SameSite=Strict; Max-Age=43200; Secure$/);
    const plain = await request(locked.server).post('/login').type('form').send({ token: 'admin-token-of-the-login-test-0000' });
    expect(plain.headers['set-cookie']![0]).not.toMatch(/Secure/);
  });

  it('refuses a sign-in posted from another site, and never redirects off the router', async () => {
    const crossSite = await request(locked.server)
      .post('/login')
      .set('Sec-Fetch-Site', 'cross-site')
      .type('form')
      .send({ token: 'admin-token-of-the-login-test-0000' });
    expect(crossSite.status).toBe(403);
    const otherOrigin = await request(locked.server)
      .post('/login')
      .set('Origin', 'https://evil.example')
      .type('form')
      .send({ token: 'admin-token-of-the-login-test-0000' });
    expect(otherOrigin.status).toBe(403);
    for (const next of ['//evil.example/', 'https://evil.example/', '/\\evil.example', '/incidents/abc']) {
      const res = await request(locked.server).post('/login').type('form').send({ token: 'admin-token-of-the-login-test-0000', next });
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe(next === '/incidents/abc' ? next : '/');
    }
  });

  it('sends a page without a session to the sign-in form, and an htmx fragment request there by HX-Redirect', async () => {
    const page = await request(locked.server).get('/incidents/abc');
    expect([page.status, page.headers.location]).toEqual([303, '/login?next=%2Fincidents%2Fabc']);
    const fragment = await request(locked.server).get('/ui/incidents/rows').set('HX-Request', 'true');
    expect([fragment.status, fragment.headers['hx-redirect']]).toEqual([401, '/login']);
  });
});
