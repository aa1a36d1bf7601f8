import { describe, expect, it } from 'vitest';
import { formatFraction, renderAlert, silenceUrl } from '../../src/notifiers/legacy/render/alert-view.js';
import { escapeHtml, escapeSlack, singleLine, TRUNCATION_MARKER, truncate } from '../../src/notifiers/render/text.js';
import { alertFixture, resolvedFixture } from './helpers.js';

describe('renderAlert title', () => {
  it.each([
    ['SLO figures known', {}, '[WARNING] api-latency SLO: 5% of error budget consumed (6.0x burn)'],
    ['critical', { severity: 'critical' as const }, '[CRITICAL] api-latency SLO: 5% of error budget consumed (6.0x burn)'],
    ['budget only', { burnRate: null }, '[WARNING] api-latency SLO: 5% of error budget consumed'],
    ['burn rate only', { budgetConsumed: null, burnRate: 14.4 }, '[WARNING] api-latency SLO: error budget burning at 14.4x'],
    [
      'no SLO figures',
      { budgetConsumed: null, burnRate: null, slo: null, severity: 'info' as const },
      '[INFO] SLOBurnRate: api-latency is burning its error budget 6x too fast',
    ],
    ['nothing but a name', { budgetConsumed: null, burnRate: null, slo: null, summary: null }, '[WARNING] SLOBurnRate'],
  ])('%s', (_case, overrides, title) => {
    expect(renderAlert(alertFixture(overrides)).title).toBe(title);
  });

  it('marks a resolved alert [RESOLVED] and says how long it fired', () => {
    const view = renderAlert(resolvedFixture());

    expect(view.title).toBe('[RESOLVED] api-latency SLO: 5% of error budget consumed (6.0x burn)');
    expect(view.firedFor).toBe('2h 5m');
    expect(view.facts.at(-1)).toEqual({ label: 'Fired for', value: '2h 5m' });
  });
});

describe('renderAlert facts and links', () => {
  it('lists the SLO facts that are known', () => {
    expect(renderAlert(alertFixture()).facts).toEqual([
      { label: 'Service', value: 'maestro-api' },
      { label: 'Burn rate', value: '6.0x' },
      { label: 'Budget consumed', value: '5%' },
      { label: 'Budget exhausted in', value: '5d' },
      { label: 'Objective', value: '99.5% over 30d' },
      { label: 'Alert window', value: '6h (short 30m)' },
      { label: 'Started', value: '2026-11-27T10:00:00Z' },
    ]);
    const sparse = alertFixture({
      service: null,
      burnRate: 6.3,
      budgetConsumed: null,
      timeToExhaustionSeconds: null,
      period: null,
      shortWindow: null,
    });
    expect(renderAlert(sparse).facts).toEqual([
      { label: 'Burn rate', value: '6.3x (alerts at 6.0x)' },
      { label: 'Objective', value: '99.5%' },
      { label: 'Alert window', value: '6h' },
      { label: 'Started', value: '2026-11-27T10:00:00Z' },
    ]);
  });

  it.each([
    [0.05, '5%'],
    [0.1, '10%'],
    [0.0213, '2.1%'],
    [1.2, '120%'],
  ])('formats budget fraction %d as %s', (fraction, text) => {
    expect(formatFraction(fraction)).toBe(text);
  });

  it('links only absolute http(s) URLs, and offers a silence only while firing', () => {
    const hostile = alertFixture({ runbookUrl: 'javascript:alert(1)', dashboardUrl: '/relative/path', generatorUrl: 'not a url' });

    expect(renderAlert(hostile).links.map((link) => link.label)).toEqual(['Silence']);
    expect(renderAlert(resolvedFixture()).links.map((link) => link.label)).toEqual(['Runbook', 'Dashboard', 'Prometheus expression']);
  });

  it('builds the silence form URL from the externalURL and quoted, sorted label matchers', () => {
    const url = silenceUrl('http://am.example:9093/', { zone: 'eu "west"', alertname: 'A\\B' });

    expect(url).toBe(`http://am.example:9093/#/silences/new?filter=${encodeURIComponent('{alertname="A\\\\B",zone="eu \\"west\\""}')}`);
    expect(silenceUrl('', { a: 'b' })).toBeNull();
  });
});

describe('text helpers', () => {
  it('escapes Slack mrkdwn control characters', () => {
    expect(escapeSlack('<!channel> & <@U123> <http://evil|click>')).toBe('&lt;!channel&gt; &amp; &lt;@U123&gt; &lt;http://evil|click&gt;');
  });

  it('escapes HTML text and attributes', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });

  it('puts header values on one line', () => {
    expect(singleLine('subject\r\nBcc: victim@evil.example\u2028x\ty')).toBe('subject Bcc: victim@evil.example x y');
  });

  it('leaves text within the limit alone and cuts longer text with a marker', () => {
    expect(truncate('a'.repeat(20), 20)).toBe('a'.repeat(20));
    const cut = truncate('a'.repeat(21), 20);
    expect(cut).toHaveLength(20);
    expect(cut).toBe(`${'a'.repeat(20 - TRUNCATION_MARKER.length)}${TRUNCATION_MARKER}`);
  });

  it('measures the limit after escaping and never splits an entity', () => {
    // 19 leaves room for 7 characters before the marker: one &lt; fits, a second would be cut in half.
    expect(truncate('<'.repeat(10), 19, escapeSlack)).toBe(`&lt;${TRUNCATION_MARKER}`);
  });

  it('never splits a surrogate pair', () => {
    // 17 leaves room for 5 UTF-16 units: two emoji (4), not half of a third.
    expect(truncate('😀'.repeat(20), 17)).toBe(`😀😀${TRUNCATION_MARKER}`);
  });
});
