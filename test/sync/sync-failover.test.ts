import { describe, expect, it } from 'vitest';
import type { IncidentStore } from '../../src/incidents/store.js';
import type { Incident, Told } from '../../src/incidents/types.js';
import type { IncidentNotifier, SyncContext } from '../../src/notifiers/types.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { syncReceiver } from '../../src/pipeline/sync.js';
import { ReplicaAckLostError } from '../../src/queue/replica-ack.js';
import { incident as incidentFixture } from '../notifiers/incidents.js';
import { LogCapture } from '../support/router.js';

/**
 * A sync whose connection is lost while it waits for its attempt mark to reach a replica (a
 * failover): nothing was sent, and the master there is now decides what is left to say.
 */

const RECEIVER = 'ops-slack';

/**
 * The store's side of a sync, in memory: each run reads the next of `incidents` (the last one
 * again once they run out), and `startAttempt` loses the connection `lost` times first.
 */
function storeWith(incidents: Array<Incident | null>, lost: number) {
  const told = new Map<string, Told>();
  const claims = new Map<string, string>();
  let attempts = 0;
  let reads = 0;
  let tokens = 0;
  const store = {
    claims,
    claimSync: async (id: string, receiver: string) => {
      if (claims.has(`${id}:${receiver}`)) return null;
      const token = `t${++tokens}`;
      claims.set(`${id}:${receiver}`, token);
      return token;
    },
    extendClaim: async (id: string, receiver: string, token: string) => claims.get(`${id}:${receiver}`) === token,
    releaseClaim: async (id: string, receiver: string, token: string) => {
      if (claims.get(`${id}:${receiver}`) === token) claims.delete(`${id}:${receiver}`);
    },
    get: async () => incidents[Math.min(reads++, incidents.length - 1)] ?? null,
    toldOne: async (_id: string, receiver: string) => told.get(receiver) ?? null,
    startAttempt: async () => {
      attempts += 1;
      if (attempts <= lost) throw new ReplicaAckLostError('the connection to Redis was lost before replicas confirmed the writes');
      return false;
    },
    recordTold: async (_id: string, receiver: string, entry: Told) => {
      told.set(receiver, entry);
      return true;
    },
    settleFailing: async () => false,
    appendTimeline: async () => undefined,
    dueNoLaterThan: async () => undefined,
  };
  return { store: store as unknown as IncidentStore, claims, attempts: () => attempts };
}

function recordingNotifier(before: () => Promise<void> = async () => undefined) {
  const sent: SyncContext[] = [];
  const notifier: IncidentNotifier = {
    kind: 'slack',
    dryRun: false,
    interests: new Set(['first_notification']),
    minUpdateIntervalMs: 0,
    notify: async (context) => {
      await before();
      sent.push(context);
      return { action: 'posted', receipt: { slack: { channel: 'C1', ts: '1.000001' } } };
    },
    close: async () => undefined,
  };
  return { notifier, sent };
}

const routed = () => incidentFixture({ receivers: { [RECEIVER]: { route: 'slo-alerts', repeatIntervalMs: 3_600_000, routedNow: true } } });

function deps(store: IncidentStore, notifier: IncidentNotifier) {
  return { store, notifierFor: () => notifier, timeoutMs: 1_000, claimMs: 2_000, metrics: createMetrics(), logger: createLogger('silent', new LogCapture()) };
}

describe('one run of a sync at a time', () => {
  it('leaves the pair to the run under way: the other looks again later', async () => {
    const { store, claims } = storeWith([routed()], 0);
    const { notifier, sent } = recordingNotifier(() => new Promise((resolve) => setTimeout(resolve, 50)));
    const [first, second] = await Promise.all([
      syncReceiver({ incidentId: 'inc-1', receiver: RECEIVER }, deps(store, notifier)),
      syncReceiver({ incidentId: 'inc-1', receiver: RECEIVER }, deps(store, notifier)),
    ]);
    expect([first.kind, second.kind].sort()).toEqual(['busy', 'sent']);
    expect(sent).toHaveLength(1);
    expect(claims.size).toBe(0);
  });

  it('does not send when its claim went with the old master and another run holds the pair now', async () => {
    const { store, claims } = storeWith([routed()], 1);
    const { notifier, sent } = recordingNotifier();
    const original = store.startAttempt.bind(store);
    // The failover: this run's claim is gone, and the job, run again on the new master, claimed the pair.
    store.startAttempt = async (id, receiver) => {
      claims.set(`${id}:${receiver}`, 'the-other-run');
      return original(id, receiver);
    };
    expect(await syncReceiver({ incidentId: 'inc-1', receiver: RECEIVER }, deps(store, notifier))).toMatchObject({ kind: 'busy' });
    expect(sent).toEqual([]);
    expect(claims.get(`inc-1:${RECEIVER}`)).toBe('the-other-run');
  });
});

describe('a sync across a failover', () => {
  it('runs again on the new master when the connection was lost before it sent, and sends once', async () => {
    const { store, attempts } = storeWith([routed()], 1);
    const { notifier, sent } = recordingNotifier();
    const outcome = await syncReceiver({ incidentId: 'inc-1', receiver: RECEIVER }, deps(store, notifier));
    expect(outcome).toMatchObject({ kind: 'sent', decision: 'first_notification' });
    expect(attempts()).toBe(2);
    expect(sent).toHaveLength(1);
  });

  it('says nothing when the new master no longer has the incident (the webhook, run again, opens it anew)', async () => {
    const { store, attempts } = storeWith([routed(), null], 1);
    const { notifier, sent } = recordingNotifier();
    expect(await syncReceiver({ incidentId: 'inc-1', receiver: RECEIVER }, deps(store, notifier))).toMatchObject({ kind: 'nothing' });
    expect(attempts()).toBe(1);
    expect(sent).toEqual([]);
  });

  it('leaves it to the queue when failovers keep taking the connection', async () => {
    const { store, attempts } = storeWith([routed()], 10);
    const { notifier, sent } = recordingNotifier();
    await expect(syncReceiver({ incidentId: 'inc-1', receiver: RECEIVER }, deps(store, notifier))).rejects.toBeInstanceOf(ReplicaAckLostError);
    expect(attempts()).toBe(3);
    expect(sent).toEqual([]);
  });
});
