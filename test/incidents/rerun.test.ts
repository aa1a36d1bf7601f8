import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSloCatalog } from '../../src/alerts/slo-catalog.js';
import { IncidentStore } from '../../src/incidents/store.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { type ProcessDeps, processWebhook } from '../../src/pipeline/process-webhook.js';
import { AlertState } from '../../src/queue/alert-state.js';
import type { PlannedSync } from '../../src/queue/syncs.js';
import { loadRoutingConfig } from '../../src/routing/config.js';
import { burnRatePayload } from '../support/payloads.js';
import { cleanRedis, LogCapture, REDIS_URL, testPrefix } from '../support/router.js';

/**
 * A router that stops between writing an incident and queueing its syncs (SIGKILL, a failed
 * enqueue) leaves the webhook to run again; that run finds the incident already written and must
 * still queue the syncs, or the incident is never told to anyone.
 */
describe('a webhook run again after its syncs were never queued', () => {
  const prefix = testPrefix();
  let redis: Redis;
  let store: IncidentStore;

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
    store = new IncidentStore(redis, prefix);
  });
  afterAll(async () => {
    redis.disconnect();
    await cleanRedis(prefix);
  });

  const deps = (enqueue: ProcessDeps['enqueue']): ProcessDeps => {
    const routing = loadRoutingConfig('routing/routes.yaml', {});
    return {
      catalog: loadSloCatalog('routing/slos.yaml'),
      defaultSeverity: 'warning',
      routing: () => routing,
      store,
      alertState: new AlertState(redis, prefix),
      enqueue,
      metrics: createMetrics(),
      logger: createLogger('silent', new LogCapture()),
    };
  };

  it('queues the syncs the stopped run did not, and only for receivers not told yet', async () => {
    const webhook = { body: JSON.stringify(burnRatePayload({ slo: null, count: 2, severity: 'critical', seed: 'rerun' })), acceptedAt: Date.now() };
    // The first run writes both incidents, then cannot queue their syncs.
    await expect(
      processWebhook(
        webhook,
        1,
        deps(async () => Promise.reject(new Error('killed before the enqueue'))),
      ),
    ).rejects.toThrow('killed before the enqueue');

    const queued: PlannedSync[] = [];
    await processWebhook(
      webhook,
      2,
      deps(async (syncs) => void queued.push(...syncs)),
    );
    const incidents = await store.list({ state: 'open' });
    expect(incidents).toHaveLength(2);
    const expected = incidents.flatMap((incident) => [`${incident.id} oncall-pagerduty pagerduty`, `${incident.id} ops-slack slack`]).sort();
    expect(queued.map((sync) => `${sync.incidentId} ${sync.receiver} ${sync.kind}`).sort()).toEqual(expected);

    // Once a receiver was told the incident as it is, a repeat queues nothing for it.
    const [first] = incidents;
    const told = {
      rev: first!.rev,
      state: first!.state,
      severity: first!.severity,
      figures: '',
      acknowledged: false,
      firstAt: 1,
      lastAt: 1,
      receipt: {},
      sent: 1,
    };
    await store.recordTold(first!.id, 'oncall-pagerduty', told, []);
    await store.markFailing(first!.id, 'ops-slack');
    queued.length = 0;
    await processWebhook(
      { ...webhook, acceptedAt: webhook.acceptedAt + 1 },
      1,
      deps(async (syncs) => void queued.push(...syncs)),
    );
    // Told: nothing; failing: the queue retries it already; the other incident: still behind.
    expect(queued.map((sync) => `${sync.incidentId} ${sync.receiver}`).sort()).toEqual(
      [`${incidents[1]!.id} oncall-pagerduty`, `${incidents[1]!.id} ops-slack`].sort(),
    );
  });
});
