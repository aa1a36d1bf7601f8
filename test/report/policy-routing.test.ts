import { describe, expect, it } from 'vitest';
import { loadRoutingConfig } from '../../src/routing/config.js';
import { routeAlert } from '../../src/routing/route.js';

const config = loadRoutingConfig('routing/routes.yaml', { EMAIL_TO: 'ops@maestro.example' });

describe('shipped routes.yaml: the error budget policy alerts go to email for the weekly review', () => {
  it.each(['MaestroSLOErrorBudgetExhausted', 'MaestroSLOErrorBudgetLow'])('%s (severity warning) -> ops-email and ops-slack, reminded weekly', (alertname) => {
    const routed = routeAlert(config, { alertname, severity: 'warning', slo: 'run-success', service: 'maestro-runs' }, new Date());
    expect(routed.deliveries.map((delivery) => delivery.receiver).sort()).toEqual(['ops-email', 'ops-slack']);
    expect(routed.incident.route).toBe('error-budget-policy');
    expect(routed.incident.resolveHoldMs).toBe(3_600_000);
    expect(routed.deliveries.every((delivery) => delivery.repeatIntervalMs === 7 * 24 * 3_600_000)).toBe(true);
  });

  it('burn alerts keep their routes', () => {
    expect(routeAlert(config, { alertname: 'MaestroSLOErrorBudgetBurn', severity: 'warning', slo: 'api-latency' }, new Date()).incident.route).toBe('warnings');
    expect(routeAlert(config, { alertname: 'MaestroSLOErrorBudgetBurn', severity: 'critical', slo: 'api-latency' }, new Date()).incident.route).toBe('pages');
  });
});
