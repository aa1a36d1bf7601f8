import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngestProducer } from '../../src/queue/ingest.js';
import { createProducerConnection } from '../../src/queue/redis.js';
import { burnRatePayload } from '../support/payloads.js';
import { OwnRedis } from '../support/processes.js';
import { cleanRedis, eventually, REDIS_URL, startTestRouter, type TestRouter } from '../support/router.js';

const ADMIN = 'admin-token-0001';
const WEBHOOK = 'webhook-token-0001';

const metricValue = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);

describe('admin API, hot reload and AlertCenter state', () => {
  const dir = mkdtempSync(join(tmpdir(), 'alertcenter-routing-'));
  const routingFile = join(dir, 'routes.yaml');
  let router: TestRouter;

  beforeAll(async () => {
    copyFileSync('routing/routes.yaml', routingFile);
    router = await startTestRouter({
      ROUTING_FILE: routingFile,
      ADMIN_TOKEN: ADMIN,
      WEBHOOK_TOKENS: WEBHOOK,
      PAGERDUTY_ROUTING_KEY: 'pd-routing-key-abcdef123456',
    });
  });

  afterAll(async () => {
    await router.stop();
    await cleanRedis(router.prefix);
  });

  const admin = (method: 'get' | 'post', path: string) => request(router.server)[method](path).set('Authorization', `Bearer ${ADMIN}`);

  it('refuses the admin API without the admin token, and with a webhook token', async () => {
    for (const header of [undefined, `Bearer ${WEBHOOK}`]) {
      const req = request(router.server).get('/api/v1/routing');
      if (header) req.set('Authorization', header);
      const res = await req;
      expect(res.status).toBe(401);
      expect(res.body.error).toEqual({ code: 'unauthorized', message: 'missing or invalid admin credentials' });
    }
  });

  it('GET /api/v1/routing shows the config in force with its hash and load time, secrets masked', async () => {
    const res = await admin('get', '/api/v1/routing');
    expect(res.status).toBe(200);
    expect(res.body.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(Date.parse(res.body.loadedAt)).not.toBeNaN();
    expect(res.body.routes.map((r: any) => [r.name, r.matchers, r.receivers])).toEqual([
      ['pages', ['severity="critical"'], ['oncall-pagerduty', 'ops-slack']],
      ['error-budget-policy', ['alertname=~"MaestroSLOErrorBudget(Exhausted|Low)"'], ['ops-email', 'ops-slack']],
      ['warnings', ['severity="warning"'], ['ops-email', 'ops-slack']],
    ]);
    expect(JSON.stringify(res.body)).not.toContain('pd-routing-key');
  });

  it('POST /api/v1/routing/test routes labels as the pipeline does (sloth_severity=page is critical)', async () => {
    const res = await admin('post', '/api/v1/routing/test').send({ labels: { sloth_severity: 'page', sloth_slo: 'api-latency' } });
    expect(res.status).toBe(200);
    expect(res.body.labels.severity).toBe('critical');
    expect(res.body.decision.deliveries.map((d: any) => d.receiver)).toEqual(['oncall-pagerduty', 'ops-slack']);
    expect(res.body.verdicts[0]).toMatchObject({ route: 'pages', outcome: 'matched' });

    const bad = await admin('post', '/api/v1/routing/test').send({ labels: { severity: 3 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_request');
    expect(bad.body.error.message).toMatch(/^labels\.severity: /);
  });

  it('reloads a good edit of the routing file, refuses a bad one and keeps running the good one', async () => {
    const before = (await admin('get', '/api/v1/routing')).body.hash;
    const edited = readFileSync(routingFile, 'utf8').replace('receivers: [ops-email, ops-slack]', 'receivers: [ops-slack]');
    writeFileSync(routingFile, edited);
    await eventually(async () => (await admin('get', '/api/v1/routing')).body.hash !== before, 10_000, 'the good edit to load');
    const good = (await admin('get', '/api/v1/routing')).body;
    expect(good.routes[1].receivers).toEqual(['ops-slack']);
    let metrics = (await request(router.server).get('/metrics')).text;
    expect(metricValue(metrics, 'alertcenter_config_last_reload_successful')).toBe(1);
    const goodAt = metricValue(metrics, 'alertcenter_config_last_reload_success_timestamp_seconds');

    writeFileSync(routingFile, edited.replace('receivers: [ops-slack]', 'receivers: [ops-pager]'));
    await eventually(
      async () => {
        metrics = (await request(router.server).get('/metrics')).text;
        return metricValue(metrics, 'alertcenter_config_last_reload_successful') === 0;
      },
      10_000,
      'the bad edit to be refused',
    );
    expect(metricValue(metrics, 'alertcenter_config_last_reload_success_timestamp_seconds')).toBe(goodAt);
    expect((await admin('get', '/api/v1/routing')).body.hash).toBe(good.hash);
    expect(router.logs.text).toMatch(/routes\[1\]\.receivers\[0\]: undefined receiver \\"ops-pager\\"/);

    // SIGHUP does the same as the watch: here through reloadRouting(), which main.ts binds to SIGHUP.
    writeFileSync(routingFile, edited);
    router.reloadRouting();
    metrics = (await request(router.server).get('/metrics')).text;
    expect(metricValue(metrics, 'alertcenter_config_last_reload_successful')).toBe(1);
  });

  it('GET /api/v1/alerts shows each alert with its latest status and its incident', async () => {
    const firing = burnRatePayload({ severity: 'critical', seed: 'ad' });
    await request(router.server).post('/api/v1/webhooks/alertmanager').set('Authorization', `Bearer ${WEBHOOK}`).send(firing).expect(202);
    const fingerprint = firing.alerts[0].fingerprint;
    const record = await eventually(
      async () => {
        const res = await admin('get', `/api/v1/alerts/${fingerprint}`);
        return res.status === 200 && res.body;
      },
      10_000,
      'the alert state',
    );
    expect(record.alert).toMatchObject({ fingerprint, status: 'firing', severity: 'critical', slo: 'api-latency', longWindow: '6h' });
    const incident = await admin('get', `/api/v1/incidents/${record.incident}`);
    expect(incident.status).toBe(200);
    expect(incident.body.incident.alerts[fingerprint]).toMatchObject({ status: 'firing' });
    expect(Object.keys(incident.body.incident.receivers).sort()).toEqual(['oncall-pagerduty', 'ops-slack']);

    await request(router.server)
      .post('/api/v1/webhooks/alertmanager')
      .set('Authorization', `Bearer ${WEBHOOK}`)
      .send(burnRatePayload({ severity: 'critical', seed: 'ad', status: 'resolved' }))
      .expect(202);
    await eventually(async () => (await admin('get', `/api/v1/alerts/${fingerprint}`)).body.alert.status === 'resolved', 10_000, 'resolved state');

    // A late HA copy of the firing state, in one webhook with a new alert: once the new alert shows,
    // the copy was processed too, and it must not have won.
    const late = burnRatePayload({ severity: 'critical', seed: 'ad' });
    const marker = burnRatePayload({ severity: 'critical', seed: 'ae' }).alerts[0];
    late.alerts.push(marker);
    await request(router.server).post('/api/v1/webhooks/alertmanager').set('Authorization', `Bearer ${WEBHOOK}`).send(late).expect(202);
    await eventually(async () => (await admin('get', `/api/v1/alerts/${marker.fingerprint}`)).status === 200, 10_000, 'the new alert');
    expect((await admin('get', `/api/v1/alerts/${fingerprint}`)).body.alert.status).toBe('resolved');
    const list = await admin('get', '/api/v1/alerts?status=resolved');
    expect(list.body.alerts.map((r: any) => r.alert.fingerprint)).toContain(fingerprint);
    expect((await admin('get', '/api/v1/alerts?status=open')).status).toBe(400);
    expect((await admin('get', '/api/v1/alerts/nope')).status).toBe(404);
    const queues = await admin('get', '/api/v1/deliveries');
    expect(Object.keys(queues.body.queues).sort()).toEqual(['sync-email', 'sync-pagerduty', 'sync-slack']);
  });

  it('lists, counts and re-drives a stored webhook given up on, beside the delivery dead letters', async () => {
    // A stored body that no longer parses (as after an upgrade that changed the schema): dead-lettered at once.
    const connection = createProducerConnection(REDIS_URL);
    const producer = new IngestProducer(connection, router.prefix, { attempts: 3, backoffMs: 100 });
    try {
      await eventually(() => connection.status === 'ready', 5_000, 'producer connection');
      await producer.enqueue('{"alerts": not json', Date.now());
    } finally {
      await producer.close();
      connection.disconnect();
    }
    const dead = await eventually(
      async () => (await admin('get', '/api/v1/dead-letters')).body.deadLetters.find((d: any) => d.queue === 'ingest'),
      10_000,
      'the dead letter',
    );
    expect(dead).toMatchObject({ attempts: 1, alerts: null, bytes: 19 });
    expect(dead.reason).toMatch(/^stored webhook is not JSON/);
    // The first path lists the same dead letters.
    expect((await admin('get', '/api/v1/deliveries/failed')).body.failed).toContainEqual(dead);
    expect((await admin('get', '/api/v1/dead-letters?queue=ingest')).body.deadLetters).toEqual([dead]);
    const badQueue = await admin('get', '/api/v1/dead-letters?queue=nope');
    expect([badQueue.status, badQueue.body.error.code]).toEqual([400, 'invalid_query']);

    let metrics = (await request(router.server).get('/metrics')).text;
    expect(metricValue(metrics, 'alertcenter_dead_letters_total\\{queue="ingest"\\}')).toBe(1);
    expect(metricValue(metrics, 'alertcenter_queue_depth\\{queue="ingest",state="failed"\\}')).toBe(1);

    const retried = await admin('post', `/api/v1/dead-letters/ingest/${dead.id}/retry`);
    expect(retried.status).toBe(202);
    expect(retried.body.retried).toMatchObject({ id: dead.id, queue: 'ingest' });
    // Still unparseable: given up on again after this one more attempt, and counted again.
    await eventually(async () => (await admin('get', '/api/v1/dead-letters?queue=ingest')).body.deadLetters[0]?.attempts === 2, 10_000, 'the second give-up');
    metrics = (await request(router.server).get('/metrics')).text;
    expect(metricValue(metrics, 'alertcenter_dead_letters_total\\{queue="ingest"\\}')).toBe(2);
    expect((await admin('post', `/api/v1/deliveries/failed/${dead.id}/retry?queue=ingest`)).status).toBe(202);

    for (const path of [
      '/api/v1/dead-letters/ingest/no-such-job/retry',
      `/api/v1/dead-letters/nope/${dead.id}/retry`,
      '/api/v1/deliveries/failed/no-such-job/retry',
    ]) {
      const missing = await admin('post', path);
      expect([missing.status, missing.body.error.code]).toEqual([404, 'not_found']);
    }
  });

  it('answers unknown paths with the JSON error format', async () => {
    const res = await request(router.server).get('/api/v1/nope');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'not_found', message: 'no route for GET /api/v1/nope' } });
  });
});

describe('start-up warnings about Redis durability', () => {
  it('warns when Redis runs without AOF, and not when it has it', async () => {
    const plain = await startTestRouter(); // the machine's Redis keeps nothing on disk
    const own = await OwnRedis.start(); // appendonly yes
    const durable = await startTestRouter({ REDIS_URL: own.url });
    try {
      await eventually(() => plain.logs.text.includes('without AOF persistence'), 10_000, 'the AOF warning');
      await eventually(() => durable.logs.text.includes('Redis durability checked'), 10_000, 'the durable Redis check');
      expect(durable.logs.text).not.toContain('without AOF persistence');
      expect(durable.logs.text).not.toContain('is not noeviction');
    } finally {
      await Promise.all([plain.stop(), durable.stop()]);
      await own.down();
      await cleanRedis(plain.prefix);
    }
  });
});
