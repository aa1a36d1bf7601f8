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
  let attempts = 0;
  let reads = 0;
  const store = {
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
  return { store: store as unknown as IncidentStore, attempts: () => attempts };
}

function recordingNotifier() {
  const sent: SyncContext[] = [];
  const notifier: IncidentNotifier = {
    kind: 'slack',
    dryRun: false,
    interests: new Set(['first_notification']),
    minUpdateIntervalMs: 0,
    notify: async (context) => {
      sent.push(context);
      return { action: 'posted', receipt: { slack: { channel: 'C1', ts: '1.000001' } } };
    },
    close: async () => undefined,
  };
  return { notifier, sent };
}

const routed = () => incidentFixture({ receivers: { [RECEIVER]: { route: 'slo-alerts', repeatIntervalMs: 3_600_000, routedNow: true } } });

function deps(store: IncidentStore, notifier: IncidentNotifier) {
  return { store, notifierFor: () => notifier, timeoutMs: 1_000, metrics: createMetrics(), logger: createLogger('silent', new LogCapture()) };
}

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
