import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Request, Response } from 'express';
import { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { EventHub, nextFrameMs } from '../../src/ui/events.js';
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

describe('page event frames: a storm lengthens them, a quiet spell shortens them again', () => {
  const frames = { shortestMs: 1_000, longestMs: 4_000 };

  it('doubles the frame while changes were waiting for it, up to the longest', () => {
    expect(nextFrameMs(1_000, 1_000, frames)).toBe(2_000);
    // A timer that fired a little late still waited.
    expect(nextFrameMs(2_000, 2_150, frames)).toBe(4_000);
    expect(nextFrameMs(4_000, 4_000, frames)).toBe(4_000);
  });

  it('goes back to the shortest frame after a quiet spell', () => {
    expect(nextFrameMs(4_000, 9_000, frames)).toBe(1_000);
    expect(nextFrameMs(1_000, 60_000, frames)).toBe(1_000);
  });

  it('tells a page of a sustained storm in ever longer frames, and of every change', async () => {
    const prefix = testPrefix();
    const redis = new Redis(REDIS_URL);
    // Short frames (50 ms, up to 200 ms) so that the doubling shows within a second and a half.
    const hub = new EventHub(redis, prefix, createLogger('silent'), { shortestMs: 50, longestMs: 200 });
    const server = createServer((req, res) => hub.serve(req as Request, res as Response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const stream = await openStream(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, 'unused');
    const publisher = new Redis(REDIS_URL);
    try {
      await eventually(
        async () => ((await publisher.call('PUBSUB', 'NUMSUB', `${prefix}:ui:events`)) as [string, number])[1] === 1,
        5_000,
        'the hub to subscribe',
      );
      const ids: string[] = [];
      const until = Date.now() + 1_500;
      while (Date.now() < until) {
        const id = `storm-${ids.length}`;
        ids.push(id);
        await publisher.publish(`${prefix}:ui:events`, JSON.stringify({ type: 'incident', ids: [id] }));
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const told = () => stream.events.filter((e) => e.event === 'incident').map((e) => JSON.parse(e.data) as { ids: string[]; gen: string });
      await eventually(() => ids.every((id) => told().some((event) => event.ids.includes(id))), 10_000, 'every change to reach the page');
      // Frames of 50 ms throughout would tell it about 30 times; 50, 100, 200, 200... about 9.
      expect(told().length).toBeLessThanOrEqual(12);
      expect(new Set(told().map((event) => event.gen)).size).toBe(told().length);
    } finally {
      await stream.close();
      await hub.close();
      await new Promise((resolve) => server.close(resolve));
      publisher.disconnect();
      redis.disconnect();
    }
  });
});
