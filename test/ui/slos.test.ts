import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSloCatalog } from '../../src/alerts/slo-catalog.js';
import { sloCards } from '../../src/ui/model.js';

const catalog = parseSloCatalog(readFileSync('routing/slos.yaml', 'utf8'), 'routing/slos.yaml');
const now = Date.parse('2026-12-07T12:10:00Z');

function incident(figures: Record<string, unknown>, figuresSource: 'observed' | 'threshold' = 'observed') {
  return {
    id: 'i1',
    state: 'open',
    severity: 'critical',
    title: 'database-availability',
    slo: 'database-availability',
    tiers: {
      t: {
        figuresAt: Date.parse('2026-12-07T12:06:00Z'),
        figures: { burnRate: 14.4, burnRateShort: null, timeToExhaustionSeconds: null, budgetRemaining: null, figuresSource, ...figures },
      },
    },
  } as any;
}

describe('SLO cards', () => {
  it('without Prometheus: the newest alert figures, and says so', () => {
    const cards = sloCards(catalog, [incident({ burnRateShort: 22.5, budgetRemaining: 0.62, timeToExhaustionSeconds: 7200 })], null, now);
    const db = cards.find((card) => card.name === 'database-availability')!;
    expect([db.budgetRemaining, db.burnRate, db.timeToExhaustion]).toEqual(['62%', '22.5x', '2h']);
    expect(db.source).toBe('from the newest alert, 12:06 UTC (4 min ago)');
    expect(db.incident).toMatchObject({ id: 'i1', severity: 'critical' });
    const api = cards.find((card) => card.name === 'api-latency')!;
    expect([api.budgetRemaining, api.source, api.incident]).toEqual([null, 'no alert received yet', null]);
  });

  it("marks threshold figures as the rule's, of a full budget", () => {
    const [, db] = sloCards(catalog, [incident({}, 'threshold')], null, now);
    expect(db!.burnRate).toBe('14.4x');
    expect(db!.source).toMatch(/the rule's threshold of a full budget$/);
  });

  it('with Prometheus: budget, burn now (5m error ratio over the error budget), time to exhaustion at that burn, sparkline', () => {
    const reading = {
      ok: true,
      at: now,
      bySlo: new Map([
        [
          'database-availability',
          {
            budgetRemaining: 0.5,
            burnRate: 10,
            history: [
              [1, 0.9],
              [2, 0.7],
              [3, 0.5],
            ] as Array<[number, number]>,
          },
        ],
      ]),
    };
    const db = sloCards(catalog, [], reading, now).find((card) => card.name === 'database-availability')!;
    // 0.5 of a 30d budget at 10x: 1.5 days.
    expect([db.budgetRemaining, db.burnRate, db.timeToExhaustion, db.burnLevel]).toEqual(['50%', '10.0x', '1d 12h', 'warning']);
    expect(db.sparkline).toMatch(/^<svg/);
    expect(db.source).toMatch(/^Prometheus, 12:10 UTC/);
  });

  it('Prometheus unreachable: falls back to the alerts and says why', () => {
    const reading = { ok: false, error: 'fetch failed', at: now, bySlo: new Map() };
    const db = sloCards(catalog, [incident({ budgetRemaining: 0.4 })], reading, now).find((card) => card.name === 'database-availability')!;
    expect(db.budgetRemaining).toBe('40%');
    expect(db.source).toMatch(/^Prometheus unreachable \(fetch failed\); from the newest alert/);
  });
});
