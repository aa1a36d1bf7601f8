import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main, runCli, USAGE } from '../../src/cli/alertcenter.js';

const SHIPPED = 'routing/routes.yaml';
const COMPLETE = 'test/fixtures/routing/complete.yaml';
const sha256Of = (file: string) => createHash('sha256').update(readFileSync(file, 'utf8')).digest('hex');
const text = (...lines: string[]) => `${lines.join('\n')}\n`;

describe('alertcenter routing check', () => {
  it('summarizes the shipped routing', () => {
    expect(runCli(['routing', 'check'], {})).toEqual({
      exitCode: 0,
      output: text(
        `routing/routes.yaml: OK (sha256 ${sha256Of(SHIPPED)})`,
        'routing/slos.yaml: OK, 3 SLOs: api-latency, database-availability, run-success',
        '',
        'Receivers (3):',
        '  oncall-pagerduty  pagerduty  routing key from PAGERDUTY_ROUTING_KEY',
        '  ops-slack         slack      #maestro-alerts',
        '  ops-email         email      ops@maestro.example',
        '',
        'Routes (3), tried in order; the first match wins unless it says continue:',
        '  1. pages',
        '       matchers: severity="critical"',
        '       receivers: oncall-pagerduty, ops-slack',
        '       repeat interval: 1d',
        '       incidents: by alertname, slo, service (the fingerprint without an SLO); resolve hold 5m; stale after 8h',
        '  2. error-budget-policy',
        '       matchers: alertname=~"MaestroSLOErrorBudget(Exhausted|Low)"',
        '       receivers: ops-email, ops-slack',
        '       repeat interval: 7d',
        '       incidents: by alertname, slo, service (the fingerprint without an SLO); resolve hold 1h; stale after 8h',
        '  3. warnings',
        '       matchers: severity="warning"',
        '       receivers: ops-email, ops-slack',
        '       repeat interval: 1d',
        '       incidents: by alertname, slo, service (the fingerprint without an SLO); resolve hold 5m; stale after 8h',
        '',
        'Default receivers (alerts no route matches): ops-slack',
      ),
    });
  });

  it('shows continue, time intervals and a masked routing key; reads ROUTING_FILE and the environment', () => {
    const { exitCode, output } = runCli(['routing', 'check'], { ROUTING_FILE: COMPLETE, PD_KEY: 'R0123456789ABCDEF0123456789ABCD1' });
    expect(exitCode).toBe(0);
    expect(output).toContain(`${COMPLETE}: OK (sha256 ${sha256Of(COMPLETE)})`);
    expect(output).toContain('  oncall-pagerduty  pagerduty  routing key ****BCD1\n');
    expect(output).not.toContain('R0123456789ABCDEF0123456789ABCD1');
    expect(output).toContain(
      text(
        '  1. database-pages',
        '       matchers: severity="critical", slo=~"database-.*"',
        '       receivers: oncall-pagerduty, ops-email',
        '       repeat interval: 4h',
        '       incidents: by slo, service, tenant; resolve hold 0ms; stale after 2h',
        '       continue: true',
        '  2. pages',
        '       matchers: severity="critical"',
        '       receivers: oncall-pagerduty',
        '       repeat interval: 1d',
        '       incidents: by alertname, slo, service (the fingerprint without an SLO); resolve hold 5m; stale after 8h',
        '       muted during: year-end-freeze',
      ),
    );
    expect(output).toMatch(/Time intervals: office-hours, year-end-freeze\n$/);
  });

  it('fails with the one-line error of a bad routing file', () => {
    expect(runCli(['routing', 'check', 'test/fixtures/routing/invalid/undefined-receiver.yaml'], {})).toEqual({
      exitCode: 1,
      output: 'test/fixtures/routing/invalid/undefined-receiver.yaml:14:17: routes[1].receivers[0]: undefined receiver "ops-pager"\n',
    });
  });

  it('fails on a bad SLO catalog too', () => {
    expect(runCli(['routing', 'check', '--slos', 'test/fixtures/routing/bad-slos.yaml'], {})).toEqual({
      exitCode: 1,
      output: 'test/fixtures/routing/bad-slos.yaml: slos[0].objective: Too big: expected number to be <100\n',
    });
  });
});

describe('alertcenter routing test', () => {
  const AT = ['--at', '2025-01-06T10:00:00Z'];

  it('prints the route and receivers of a critical alert, with the SLO fields normalization adds', () => {
    expect(runCli(['routing', 'test', 'severity=critical', 'slo=api-latency', ...AT], {})).toEqual({
      exitCode: 0,
      output: text(
        'Labels as routed: service="maestro-api" severity="critical" slo="api-latency"',
        'At: 2025-01-06T10:00:00.000Z',
        'Matched routes (1):',
        '  pages -> oncall-pagerduty, ops-slack (repeat interval 1d)',
        'Delivered to: oncall-pagerduty, ops-slack',
      ),
    });
  });

  it.each([
    [['sloth_severity=page'], {}, 'Delivered to: oncall-pagerduty, ops-slack'],
    [['sloth_severity=ticket'], {}, 'Delivered to: ops-email, ops-slack'],
    [['severity=unheard-of'], {}, 'Delivered to: ops-email, ops-slack'],
    [['alertname=Watchdog'], { DEFAULT_SEVERITY: 'info' }, 'No route matched: default receivers ops-slack'],
  ])('maps severity as the server does: %j with %j', (labels, env, last) => {
    const { exitCode, output } = runCli(['routing', 'test', ...labels, ...AT], env);
    expect(exitCode).toBe(0);
    expect(output.trimEnd().split('\n').at(-1)).toBe(last);
  });

  it('--explain says why each route did or did not match', () => {
    const args = ['routing', 'test', 'severity=warning', 'slo=run-success', '--file', COMPLETE, '--explain', '--at', '2025-01-06T20:00:00Z'];
    expect(runCli(args, {})).toEqual({
      exitCode: 0,
      output: text(
        'Labels as routed: service="maestro-runs" severity="warning" slo="run-success"',
        'At: 2025-01-06T20:00:00.000Z',
        '',
        'Routes, in order:',
        '  1. database-pages: not matched: severity="critical" fails, the value is "warning"',
        '  2. pages: not matched: severity="critical" fails, the value is "warning"',
        '  3. tickets: matched but muted (outside its active time intervals: office-hours)',
        '',
        'Matched routes (1):',
        '  tickets -> ops-email (repeat interval 1d) [muted: outside its active time intervals: office-hours]',
        'Delivered to nobody now: every matching route is muted',
      ),
    });
  });

  it('--explain names routes the walk never reached, and absent labels', () => {
    const args = ['routing', 'test', 'severity=critical', '--file', COMPLETE, '--explain', ...AT];
    const { output } = runCli(args, {});
    expect(output).toContain(
      text(
        '  1. database-pages: not matched: slo=~"database-.*" fails, the label is absent',
        '  2. pages: matched -> oncall-pagerduty',
        '  3. tickets: not tried: route pages matched before it without continue',
      ),
    );
  });

  it('fails with the one-line error of a bad routing file', () => {
    expect(runCli(['routing', 'test', 'severity=critical', '--file', 'test/fixtures/routing/invalid/bad-regex.yaml'], {})).toEqual({
      exitCode: 1,
      output: 'test/fixtures/routing/invalid/bad-regex.yaml:6:39: routes[0].matchers[1]: invalid regular expression "api-(latency" (Unterminated group)\n',
    });
  });
});

describe('usage', () => {
  it.each([
    [['routing'], 'routing needs a command: check or test'],
    [['routing', 'lint'], 'unknown command "routing lint"'],
    [['deploy'], 'unknown command "deploy"'],
    [['routing', 'test'], 'routing test needs labels, such as severity=critical slo=api-latency'],
    [['routing', 'test', 'severity'], 'expected <label>=<value>, got "severity"'],
    [['routing', 'test', 'a=b', '--fil', 'x'], "Unknown option '--fil'"],
    [['routing', 'test', 'a=b', '--at', 'yesterday'], '--at: expected an ISO 8601 time such as 2025-01-06T09:30:00Z, got "yesterday"'],
    [['routing', 'check', 'a.yaml', 'b.yaml'], 'routing check takes at most one file'],
  ])('%j: exit 2, %s', (args, message) => {
    expect(runCli(args, {})).toEqual({ exitCode: 2, output: `alertcenter: ${message}\n\n${USAGE}` });
  });

  it('rejects a DEFAULT_SEVERITY the router would reject', () => {
    expect(runCli(['routing', 'test', 'a=b'], { DEFAULT_SEVERITY: 'page' }).output).toMatch(
      /^alertcenter: DEFAULT_SEVERITY: expected one of critical, warning, info, got "page"\n/,
    );
  });

  it('prints the usage on help', () => {
    expect(runCli(['help'], {})).toEqual({ exitCode: 0, output: USAGE });
  });
});

describe('main', () => {
  const run = (args: string[]) => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const exitCode = main(args, {}, { stdout, stderr });
    return { exitCode, stdout: String(stdout.read() ?? ''), stderr: String(stderr.read() ?? '') };
  };

  it('writes results to stdout and failures to stderr', () => {
    const good = run(['routing', 'test', 'severity=critical']);
    expect(good).toMatchObject({ exitCode: 0, stderr: '' });
    expect(good.stdout).toContain('Delivered to: oncall-pagerduty');
    const bad = run(['routing', 'check', 'test/fixtures/routing/invalid/empty.yaml']);
    expect(bad).toEqual({ exitCode: 1, stdout: '', stderr: 'test/fixtures/routing/invalid/empty.yaml:1:1: (root): the routing file is empty\n' });
  });
});
