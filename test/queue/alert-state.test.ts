import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertState } from '../../src/queue/alert-state.js';
import { alertFixture, resolvedFixture } from '../notifiers/helpers.js';
import { cleanRedis, REDIS_URL, testPrefix } from '../support/router.js';

describe('the alert state the AlertCenter lists', () => {
  const prefix = testPrefix();
  let redis: Redis;
  let state: AlertState;

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
    state = new AlertState(redis, prefix);
  });

  afterAll(async () => {
    await cleanRedis(prefix);
    redis.disconnect();
  });

  it('keeps a resolve when late firing copies of the same alert are recorded at the same time', async () => {
    const fingerprint = 'race0000000000a1';
    // All issued in one turn, as concurrent ingest jobs do: each reads before any of them writes.
    await Promise.all([
      state.recordAll([[resolvedFixture({ fingerprint }), 'incident-a']]),
      ...Array.from({ length: 10 }, () => state.recordAll([[alertFixture({ fingerprint }), 'incident-a']])),
    ]);
    expect((await state.get(fingerprint))?.alert.status).toBe('resolved');
  });

  it('takes a firing state that started later than the stored resolve (the alert fired again)', async () => {
    const fingerprint = 'refire00000000a2';
    await state.recordAll([[resolvedFixture({ fingerprint }), 'incident-a']]);
    await state.recordAll([[alertFixture({ fingerprint, startsAt: '2026-11-27T13:00:00Z' }), 'incident-b']]);
    const record = await state.get(fingerprint);
    expect([record?.alert.status, record?.alert.startsAt, record?.incident]).toEqual(['firing', '2026-11-27T13:00:00Z', 'incident-b']);
  });

  it('applies copies within one webhook in order of their state, not of their position', async () => {
    const fingerprint = 'ordered0000000a3';
    await state.recordAll([
      [resolvedFixture({ fingerprint }), 'incident-a'],
      [alertFixture({ fingerprint }), 'incident-b'],
    ]);
    expect((await state.get(fingerprint))?.alert.status).toBe('resolved');
  });

  it('keeps the newer state another worker wrote before an older copy arrived', async () => {
    const fingerprint = 'worker00000000a6';
    await state.recordAll([[resolvedFixture({ fingerprint }), 'incident-a']]);
    await new AlertState(redis, prefix).recordAll([[alertFixture({ fingerprint }), 'incident-a']]);
    expect((await state.get(fingerprint))?.alert.status).toBe('resolved');
  });

  it('records the alerts of webhooks processed at once, and shows who each alert is, not its figures', async () => {
    const fingerprints = Array.from({ length: 5 }, (_, i) => `batched0000000b${i}`);
    await Promise.all(fingerprints.map((fingerprint) => state.recordAll([[alertFixture({ fingerprint }), 'incident-c']])));
    const records = await Promise.all(fingerprints.map((fingerprint) => state.get(fingerprint)));
    expect(records.map((record) => record?.incident)).toEqual(fingerprints.map(() => 'incident-c'));
    expect(Object.keys(records[0]!).sort()).toEqual(['alert', 'incident', 'updatedAt']);
    expect(Object.keys(records[0]!.alert).sort()).toEqual([
      'alertname',
      'endsAt',
      'fingerprint',
      'labels',
      'longWindow',
      'service',
      'severity',
      'slo',
      'startsAt',
      'status',
    ]);
  });

  it('forgets an alert from its index once its last update is older than the retention', async () => {
    const fingerprint = 'expired00000000a4';
    await state.recordAll([[alertFixture({ fingerprint }), 'incident-a']]);
    await redis.zadd(`{${prefix}:alerts}:alerts:by-update`, 0, fingerprint); // last updated in 1970
    await state.recordAll([[alertFixture({ fingerprint: 'fresh0000000000a5' }), 'incident-a']]);
    expect(await redis.zscore(`{${prefix}:alerts}:alerts:by-update`, fingerprint)).toBeNull();
    expect((await state.list()).map((record) => record.alert.fingerprint)).not.toContain(fingerprint);
  });
});
