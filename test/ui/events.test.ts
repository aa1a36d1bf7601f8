import { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routingFile, tier, webhook } from '../support/incident-webhooks.js';
import { cleanRedis, eventually, REDIS_URL, startTestRouter, type TestRouter, testPrefix } from '../support/router.js';
import { type ServerSentEvent, serverSentEvents } from '../support/sse.js';

const ADMIN = 'admin-token-for-the-events-0123456789';

/** Reads a server-sent event stream, keeping every event received. */
async function openStream(url: string, token: string) {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
  const events: ServerSentEvent[] = [];
  const reading = (async () => {
    try {
      for await (const event of serverSentEvents(res.body)) events.push(event);
    } catch {
      // aborted
    }
  })();
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    events,
    close: async () => {
      controller.abort();
      await reading;
    },
  };
}

describe('page events: a change made by a worker reaches the pages of every api replica, through Redis', () => {
  const prefix = testPrefix();
  let worker: TestRouter;
  let apis: TestRouter[];

  beforeAll(async () => {
    const env = { REDIS_PREFIX: prefix, ROUTING_FILE: routingFile(), ADMIN_TOKEN: ADMIN };
    // Two api replicas and one worker on one Redis: the replicas' pages hear of what the worker did.
    worker = await startTestRouter({ ...env, ROLE: 'worker' });
    apis = await Promise.all([startTestRouter({ ...env, ROLE: 'api' }), startTestRouter({ ...env, ROLE: 'api' })]);
  });
  afterAll(async () => {
    await Promise.all([worker?.stop(), ...(apis ?? []).map((api) => api.stop())]);
    await cleanRedis(prefix);
  });

  it('streams incident ids to every replica, and asks the pages to resync after the subscriber lost Redis', async () => {
    const streams = await Promise.all(apis.map((api) => openStream(`${api.url}/api/v1/events`, ADMIN)));
    try {
      for (const stream of streams) {
        expect(stream.status).toBe(200);
        expect(stream.type).toMatch(/^text\/event-stream/);
      }
      await eventually(() => streams.every((s) => s.events.some((e) => e.event === 'hello')), 5_000, 'the streams to open');
      // Each replica subscribes once, whatever the number of its pages.
      const redis = new Redis(REDIS_URL);
      try {
        const subscribers = async () => ((await redis.call('PUBSUB', 'NUMSUB', `${prefix}:ui:events`)) as [string, number])[1];
        await eventually(async () => (await subscribers()) === 2, 5_000, 'both replicas to subscribe');

        const res = await request(apis[0]!.server)
          .post('/api/v1/webhooks/alertmanager')
          .send(webhook(tier({ service: 'events-replicas', severity: 'critical' })));
        expect(res.status).toBe(202);
        await eventually(
          async () => {
            const incidents = (await request(apis[1]!.server).get('/api/v1/incidents').set('Authorization', `Bearer ${ADMIN}`)).body.incidents as any[];
            const id = incidents.find((incident) => incident.service === 'events-replicas')?.id;
            return id && streams.every((s) => s.events.some((e) => e.event === 'incident' && (JSON.parse(e.data).ids as string[]).includes(id)));
          },
          10_000,
          'both replicas to stream the new incident',
        );

        // The subscriber of one replica loses its connection: once back, its pages are told to reload.
        const clients = String(await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub'))
          .split('\n')
          .filter((line) => line.includes(`name=${prefix}:ui-events`));
        expect(clients).toHaveLength(2);
        const id = /\bid=(\d+)/.exec(clients[0]!)![1]!;
        await redis.call('CLIENT', 'KILL', 'ID', id);
        await eventually(() => streams.some((s) => s.events.some((e) => e.event === 'resync')), 10_000, 'a resync after the subscriber reconnected');
      } finally {
        redis.disconnect();
      }
    } finally {
      await Promise.all(streams.map((stream) => stream.close()));
    }
  });

  it('tells each page of a burst of changes in at most two events, naming one generation each', async () => {
    const stream = await openStream(`${apis[0]!.url}/api/v1/events`, ADMIN);
    const redis = new Redis(REDIS_URL);
    try {
      await eventually(() => stream.events.some((e) => e.event === 'hello'), 5_000, 'the stream to open');
      // Twenty changes published back to back: the first opens a generation at once, the rest wait for the next.
      const ids = Array.from({ length: 20 }, (_, i) => `burst-${i}`);
      for (const id of ids) await redis.publish(`${prefix}:ui:events`, JSON.stringify({ type: 'incident', ids: [id] }));
      const told = () =>
        stream.events
          .filter((e) => e.event === 'incident')
          .map((e) => JSON.parse(e.data) as { ids: string[]; gen: string })
          .filter((event) => event.ids.some((id) => id.startsWith('burst-')));
      await eventually(() => ids.every((id) => told().some((event) => event.ids.includes(id))), 10_000, 'every id to reach the page');
      expect(told().length).toBeLessThanOrEqual(2);
      expect(told().every((event) => /^[0-9a-f]{8}\.\d+$/.test(event.gen))).toBe(true);
    } finally {
      redis.disconnect();
      await stream.close();
    }
  });

  it('refuses the stream without credentials', async () => {
    const res = await fetch(`${apis[0]!.url}/api/v1/events`);
    expect(res.status).toBe(401);
  });
});
