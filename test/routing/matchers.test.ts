import { describe, expect, it } from 'vitest';
import { RoutingSyntaxError } from '../../src/routing/errors.js';
import { formatMatcher, matchesLabels, parseMatcher } from '../../src/routing/matchers.js';

describe('matcher semantics (Alertmanager)', () => {
  it.each([
    // equality
    ['severity="critical"', { severity: 'critical' }, true],
    ['severity="critical"', { severity: 'critical-ish' }, false],
    ['severity=critical', { severity: 'critical' }, true],
    ['severity = "critical"', { severity: 'critical' }, true],
    ['severity!="critical"', { severity: 'warning' }, true],
    ['severity!="critical"', { severity: 'critical' }, false],
    // a missing label is the empty string
    ['team!="ops"', {}, true],
    ['team=""', {}, true],
    ['team=""', { team: 'ops' }, false],
    ['team="ops"', {}, false],
    ['team=~".*"', {}, true],
    ['team=~".+"', {}, false],
    ['team!~".+"', {}, true],
    // regexes are anchored at both ends
    ['slo=~"api"', { slo: 'api-latency' }, false],
    ['slo=~"api.*"', { slo: 'api-latency' }, true],
    ['slo=~"latency"', { slo: 'api-latency' }, false],
    ['slo=~"api-latency|run-success"', { slo: 'run-success' }, true],
    ['slo=~"a|b"', { slo: 'ab' }, false],
    ['slo!~"api-.*"', { slo: 'api-latency' }, false],
    ['slo!~"api-.*"', { slo: 'database-availability' }, true],
    ['slo!~"api"', { slo: 'api-latency' }, true],
    // escapes: \" and \\ and \n; any other backslash stays, so regex escapes work
    ['summary="say \\"hi\\""', { summary: 'say "hi"' }, true],
    ['path="C:\\\\tmp"', { path: 'C:\\tmp' }, true],
    ['text="two\\nlines"', { text: 'two\nlines' }, true],
    ['host=~"db\\.maestro"', { host: 'db.maestro' }, true],
    ['host=~"db\\.maestro"', { host: 'dbxmaestro' }, false],
    // label names are case-sensitive and own properties only
    ['Severity="critical"', { severity: 'critical' }, false],
    ['constructor=""', {}, true],
  ])('%s on %j is %s', (text, labels, expected) => {
    expect(matchesLabels(parseMatcher(text), labels)).toBe(expected);
  });
});

describe('matcher syntax errors', () => {
  it.each([
    ['severity', `cannot parse matcher 'severity' (expected <label><op><value> such as severity="critical")`],
    ['', `cannot parse matcher '' (expected <label><op><value> such as severity="critical")`],
    ['1abc="x"', `cannot parse matcher '1abc="x"' (expected <label><op><value> such as severity="critical")`],
    ['severity==critical', `cannot parse matcher 'severity==critical' (doubled operator; quote the value if it really starts with =)`],
    ['slo=~~"api"', `cannot parse matcher 'slo=~~"api"' (doubled operator; quote the value if it really starts with ~)`],
    ['a="b"c"', `unescaped double quote in the value of matcher 'a="b"c"'`],
    ['a="b', `unescaped double quote in the value of matcher 'a="b'`],
    ['slo=~"api-("', 'invalid regular expression "api-(" (Unterminated group)'],
    ['slo!~"*"', 'invalid regular expression "*" (Nothing to repeat)'],
  ])('%j', (text, message) => {
    expect(() => parseMatcher(text)).toThrow(new RoutingSyntaxError(message));
  });

  it('accepts a value starting with = when quoted', () => {
    expect(parseMatcher('expr="=1"').value).toBe('=1');
  });
});

describe('formatMatcher', () => {
  it.each([
    ['severity=critical', 'severity="critical"'],
    ['summary="say \\"hi\\""', 'summary="say \\"hi\\""'],
    ['host=~"db\\.maestro"', 'host=~"db\\\\.maestro"'],
    ['text!="two\\nlines"', 'text!="two\\nlines"'],
  ])('%s is written %s, which parses back to the same matcher', (text, formatted) => {
    const matcher = parseMatcher(text);
    expect(formatMatcher(matcher)).toBe(formatted);
    expect(parseMatcher(formatted)).toEqual(matcher);
  });
});
