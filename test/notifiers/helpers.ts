import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { NormalizedAlert } from '../../src/alerts/types.js';
import type { Notification } from '../../src/notifiers/types.js';
import { createLogger, type Logger } from '../../src/observability/logger.js';

/** api-latency, warning tier: 5% of a 30d budget in 6h, burning at 6x. */
export function alertFixture(overrides: Partial<NormalizedAlert> = {}): NormalizedAlert {
  return {
    fingerprint: 'a1b2c3d4e5f60718',
    status: 'firing',
    startsAt: '2026-11-27T10:00:00Z',
    endsAt: null,
    groupKey: '{}:{slo="api-latency"}',
    externalUrl: 'http://alertmanager.example:9093/',
    alertname: 'SLOBurnRate',
    severity: 'warning',
    severitySource: 'warning',
    slo: 'api-latency',
    service: 'maestro-api',
    objective: 99.5,
    period: '30d',
    periodSeconds: 2_592_000,
    longWindow: '6h',
    shortWindow: '30m',
    burnRateThreshold: 6,
    burnRate: 6,
    burnRateShort: null,
    burnRateLong: null,
    budgetRemaining: null,
    figuresSource: 'threshold',
    budgetConsumed: 0.05,
    timeToExhaustionSeconds: 432_000,
    sloDescription: '99.5% of API requests complete within 200 ms',
    summary: 'api-latency is burning its error budget 6x too fast',
    description: 'Latency SLO of maestro-api: 5% of the 30d error budget went in the last 6h.',
    runbookUrl: 'https://runbooks.maestro.example/slo-api-latency',
    dashboardUrl: 'https://grafana.maestro.example/d/maestro-slo?var-slo=api-latency',
    generatorUrl: 'http://prometheus.example:9090/graph?g0.expr=slo%3Aburn_rate',
    labels: { alertname: 'SLOBurnRate', severity: 'warning', slo: 'api-latency', service: 'maestro-api' },
    annotations: {},
    ...overrides,
  };
}

/** The same alert 2h 5m later, resolved. */
export function resolvedFixture(overrides: Partial<NormalizedAlert> = {}): NormalizedAlert {
  return alertFixture({ status: 'resolved', endsAt: '2026-11-27T12:05:00Z', ...overrides });
}

export function notificationFixture(alert: NormalizedAlert, receiver = 'team-api'): Notification {
  return { receiver, route: 'slo-alerts', alert, acceptedAt: Date.parse('2026-11-27T10:00:05Z') };
}

/** Every hostile string the issue names, in the places a label or annotation can reach. */
export const HOSTILE = {
  mentions: '<!channel> <!here> <@U123>',
  script: '<script>alert(1)</script>',
  headerBreak: 'x\r\nBcc: victim@evil.example',
  markdownLink: '[click](http://evil.example)',
  template: '{{ template }}',
};

export function hostileAlert(overrides: Partial<NormalizedAlert> = {}): NormalizedAlert {
  const all = Object.values(HOSTILE).join(' ');
  return alertFixture({
    slo: `api-latency ${HOSTILE.mentions} ${HOSTILE.headerBreak}`,
    summary: all,
    description: all,
    labels: { alertname: 'SLOBurnRate', team: all, note: HOSTILE.headerBreak },
    ...overrides,
  });
}

/** A pino logger at trace level whose lines the test can read. */
export function capturedLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger('trace', { write: (line: string) => void lines.push(line) }), lines };
}

/** A Redis client and a key prefix no other test uses; `cleanup()` deletes the keys and disconnects. */
export function redisScope(name: string): { redis: Redis; keyPrefix: string; cleanup: () => Promise<void> } {
  const redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: 1 });
  const keyPrefix = `test:notifiers:${name}:${randomUUID()}:`;
  return {
    redis,
    keyPrefix,
    cleanup: async () => {
      const keys = await redis.keys(`${keyPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    },
  };
}

export const NEVER_ABORTED = new AbortController().signal;
