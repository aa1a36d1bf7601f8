import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NormalizedAlert } from '../../src/alerts/types.js';
import { applyAlerts, nextTickAt, tickIncident } from '../../src/incidents/apply.js';
import { incidentKeyOf } from '../../src/incidents/key.js';
import { IncidentStore } from '../../src/incidents/store.js';
import type { Told } from '../../src/incidents/types.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { type IncidentBatch, tickDueIncidents, updateIncident } from '../../src/pipeline/incidents.js';
import type { PlannedSync } from '../../src/queue/syncs.js';
import { parseRoutingConfig } from '../../src/routing/config.js';
import { alertFixture } from '../notifiers/helpers.js';
import { cleanRedis, REDIS_URL, testPrefix } from '../support/router.js';

const config = parseRoutingConfig(
  `
receivers: [{ name: ops-slack, slack: { channel: "#ops" } }]
routes: []
default_receivers: [ops-slack]
`,
  'routes.yaml',
  {},
);
const policy = { route: 'default', staleAfterMs: 3_600_000, resolveHoldMs: 0 };

const instance = (i: number, status: 'firing' | 'resolved' = 'firing'): NormalizedAlert =>
  alertFixture({ fingerprint: `fp-${i}`, status, labels: { alertname: 'SLOBurnRate', slo: 'api-latency', service: 'maestro-api', instance: `i-${i}` } });

const batchOf = (alerts: NormalizedAlert[], acceptedAt = Date.now()): IncidentBatch => ({
  key: incidentKeyOf(alerts[0]!, null),
  policy,
  copies: alerts.map((alert) => ({ alert, acceptedAt })),
});

describe('IncidentStore (real Redis)', () => {
  let redis: Redis;
  let prefix: string;
  let store: IncidentStore;
  beforeAll(() => {
    redis = new Redis(REDIS_URL);
    prefix = testPrefix();
    store = new IncidentStore(redis, prefix);
  });
  afterAll(async () => {
    await cleanRedis(prefix);
    redis.disconnect();
  });

  it('loses no update when 40 webhooks of one incident are written at once, from as many writers, and opens one incident', async () => {
    // Straight to the store, as 40 processes would write: the compare-and-set, not in-process order, keeps them apart.
    const writers = Array.from({ length: 40 }, () => new IncidentStore(redis, prefix));
    const results = await Promise.all(
      writers.map((writer, i) => {
        const batch = batchOf([instance(i)]);
        const ctx = { now: Date.now(), newId: () => randomUUID(), key: batch.key, policy, route: () => [] };
        return writer.updateByKey(batch.key.key, [instance(i).fingerprint], (current, known) => applyAlerts(current, known, batch.copies, ctx), nextTickAt);
      }),
    );
    const ids = new Set(results.map((result) => result!.incident.id));
    expect(ids.size).toBe(1);
    const [id] = ids;
    const incident = (await store.get(id!))!;
    expect(Object.keys(await store.alerts(id!))).toHaveLength(40);
    expect(Object.values(incident.tiers)).toEqual([expect.objectContaining({ firing: true, firingAlerts: 40 })]);
    // Another instance of a tier that already fires, with the same figures: nothing a receiver would see.
    expect(incident.rev).toBe(1);
    const timeline = await store.timeline(id!);
    expect(timeline.filter((event) => event.kind === 'opened')).toHaveLength(1);
    expect(await store.list({ state: 'open' })).toEqual([expect.objectContaining({ id })]);
  });

  it('resolves once every alert resolved, and lists it as resolved', async () => {
    const [first] = await store.list({ state: 'open' });
    await Promise.all(Array.from({ length: 40 }, (_, i) => updateIncident(batchOf([instance(i, 'resolved')]), store, config, Date.now())));
    const incident = (await store.get(first!.id))!;
    expect(incident.state).toBe('resolved');
    expect(await store.list({ state: 'open' })).toEqual([]);
    expect((await store.list({ state: 'resolved' })).map((found) => found.id)).toEqual([first!.id]);
    // Still due: the next tick checks every receiver was told, then forgets it.
    expect(await store.due(Date.now() + 1e12, 10)).toContain(first!.id);
    const planned: PlannedSync[] = [];
    await tickDueIncidents(Date.now() + 1e12, {
      store,
      routing: () => config,
      enqueue: async (syncs) => void planned.push(...syncs),
      metrics: createMetrics(),
    });
    expect(planned.filter((sync) => sync.incidentId === first!.id)).toEqual([]);
    expect(await store.due(Date.now() + 1e12, 10)).not.toContain(first!.id);
    const opened = Date.parse(incident.openedAt);
    expect((await store.openedBetween(opened, opened + 1)).map((found) => found.id)).toEqual([first!.id]);
  });

  it('keeps the newer of two notification logs, whatever the order they are written in', async () => {
    const told = (rev: number): Told => ({
      rev,
      state: 'open',
      severity: 'warning',
      figures: '',
      acknowledged: false,
      firstAt: 1,
      lastAt: rev,
      receipt: {},
      sent: rev,
    });
    expect(await store.recordTold('x', 'ops-slack', told(5), [])).toBe(true);
    expect(await store.recordTold('x', 'ops-slack', told(3), [])).toBe(false);
    expect((await store.toldOne('x', 'ops-slack'))!.rev).toBe(5);
  });

  it('lets one run claim the sync of a pair at a time, until it releases it or its claim expires', async () => {
    const token = await store.claimSync('z', 'ops-slack', 5_000);
    expect(token).toEqual(expect.any(String));
    expect(await store.claimSync('z', 'ops-slack', 5_000)).toBeNull();
    expect(await store.claimSync('z', 'ops-email', 5_000)).toEqual(expect.any(String));
    // Only the holder extends or releases it.
    expect(await store.extendClaim('z', 'ops-slack', 'not-mine', 5_000)).toBe(false);
    await store.releaseClaim('z', 'ops-slack', 'not-mine');
    expect(await store.claimSync('z', 'ops-slack', 5_000)).toBeNull();
    expect(await store.extendClaim('z', 'ops-slack', token!, 100)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const next = await store.claimSync('z', 'ops-slack', 5_000);
    expect(next).toEqual(expect.any(String));
    await store.releaseClaim('z', 'ops-slack', next!);
    expect(await store.claimSync('z', 'ops-slack', 5_000)).toEqual(expect.any(String));
  });

  it('says when an earlier attempt of a sync started and was never recorded', async () => {
    expect(await store.startAttempt('y', 'ops-slack')).toBe(false);
    expect(await store.startAttempt('y', 'ops-slack')).toBe(true);
    await store.clearAttempt('y', 'ops-slack');
    expect(await store.startAttempt('y', 'ops-slack')).toBe(false);
  });

  it('a resolve decided by the clock reaches the receivers even when the process died before queueing their syncs', async () => {
    const { incident } = await updateIncident(batchOf([instance(200)], 2_000), store, config, 2_000);
    const id = incident!.id;
    await store.recordTold(
      id,
      'ops-slack',
      { rev: incident!.rev, state: 'open', severity: 'warning', figures: '', acknowledged: false, firstAt: 2_000, lastAt: 2_000, receipt: {}, sent: 1 },
      [],
    );
    const holding = { ...policy, resolveHoldMs: 60_000 };
    const clearing = { ...batchOf([instance(200, 'resolved')], 3_000), policy: holding };
    await updateIncident(clearing, store, config, 3_000);
    // The ticker resolves it, and the process dies before it queues a sync: only the write happened.
    const resolved = await store.updateById(id, (current) => tickIncident(current, 63_000), nextTickAt);
    expect(resolved!.incident.state).toBe('resolved');
    const planned: PlannedSync[] = [];
    await tickDueIncidents(63_001, { store, routing: () => config, enqueue: async (syncs) => void planned.push(...syncs), metrics: createMetrics() });
    expect(planned).toEqual([{ kind: 'slack', incidentId: id, receiver: 'ops-slack' }]);
    expect(await store.due(63_001 + 30_000, 10)).toContain(id);
  });

  it('applies the webhooks of one incident that arrive while its update runs in one more update, and tells each its incident', async () => {
    class CountingStore extends IncidentStore {
      updates = 0;
      override updateByKey(...args: Parameters<IncidentStore['updateByKey']>) {
        this.updates += 1;
        return super.updateByKey(...args);
      }
    }
    const counting = new CountingStore(redis, prefix);
    const batches = Array.from({ length: 20 }, (_, i) =>
      batchOf([
        {
          ...instance(300 + i),
          slo: 'database-availability',
          labels: { alertname: 'SLOBurnRate', slo: 'database-availability', service: 'maestro-api', instance: `i-${300 + i}` },
        },
      ]),
    );
    const results = await Promise.all(batches.map((batch) => updateIncident(batch, counting, config, Date.now())));
    expect(counting.updates).toBe(2);
    expect(new Set(results.map((result) => result.incident!.id)).size).toBe(1);
    const incident = results[0]!.incident!;
    expect(Object.values((await store.get(incident.id))!.tiers).reduce((sum, tier) => sum + tier.firingAlerts, 0)).toBe(20);
  });

  it('schedules when time next changes an open incident', async () => {
    const { incident } = await updateIncident(batchOf([instance(100)], 1_000), store, config, 1_000);
    expect(nextTickAt(incident!)).toBe(1_000 + policy.staleAfterMs + 1);
    expect(await store.due(1_000 + policy.staleAfterMs + 1, 10)).toContain(incident!.id);
  });

  it('updates the incident another replica opened since this store last read the key, not the one it remembers', async () => {
    const elsewhere = (i: number, status: 'firing' | 'resolved' = 'firing') =>
      alertFixture({ fingerprint: `moved-${i}`, status, labels: { alertname: 'SLOBurnRateMoved', slo: 'api-latency', instance: `m-${i}` } });
    const [here, replica] = [new IncidentStore(redis, prefix), new IncidentStore(redis, prefix)];
    const first = await updateIncident(batchOf([elsewhere(1)]), here, config, Date.now());
    await updateIncident(batchOf([elsewhere(1, 'resolved')]), replica, config, Date.now());
    await replica.updateById(first.incident!.id, (incident) => tickIncident(incident, Date.now() + 1), nextTickAt); // the hold-down (0) ends
    const second = await updateIncident(batchOf([elsewhere(2)]), replica, config, Date.now());
    expect(second.incident!.id).not.toBe(first.incident!.id);

    const third = await updateIncident(batchOf([elsewhere(3)]), here, config, Date.now());
    expect(third.incident!.id).toBe(second.incident!.id);
    expect(Object.keys(await store.alerts(second.incident!.id)).sort()).toEqual(['moved-2', 'moved-3']);
    expect((await store.get(first.incident!.id))!.state).toBe('resolved');
  });
});
