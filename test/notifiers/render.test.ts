import { describe, expect, it } from 'vitest';
import { formatClock, formatDateTime, formatFraction, formatTime, silenceUrl } from '../../src/notifiers/render/format.js';
import { renderIncident } from '../../src/notifiers/render/incident-view.js';
import { escapeHtml, escapeSlack, singleLine, TRUNCATION_MARKER, truncate } from '../../src/notifiers/render/text.js';
import { at, criticalTier, escalationStory, incident, T0, warningTier } from './incidents.js';

const story = Object.fromEntries(escalationStory().map((step) => [step.name, step]));
const view = (name: string) => renderIncident(story[name]!.incident, story[name]!.now);

describe('renderIncident while it fires', () => {
  it('leads with the burn now, the budget left and the time to exhaustion at the burn now (remaining x period / burn)', () => {
    const first = view('first');

    expect(first.title).toBe('[WARNING] api-latency SLO: burning 7.2x now, budget exhausted in 4d 1h');
    // 0.97 x 30d / 7.2 = 4d 1h
    expect(first.headline).toBe(
      'api-latency SLO is burning its 30d error budget at 7.2x now (30m), 6.9x over 6h. 97% of it is left: gone in 4d 1h at the burn now.',
    );
    expect(first.facts).toEqual([
      { label: 'Severity', value: 'WARNING' },
      { label: 'Burn now', value: '7.2x over 30m' },
      { label: 'Burn, long window', value: '6.9x over 6h' },
      { label: 'Budget remaining', value: '97% of 30d' },
      { label: 'Budget exhausted in', value: '4d 1h at the burn now' },
      { label: 'Objective', value: '99.5% over 30d' },
      { label: 'Service', value: 'maestro-api' },
      { label: 'Tiers firing', value: 'warning 6h' },
      { label: 'Opened', value: '10:00 UTC (1 min ago)' },
    ]);
    expect(first.color).toBe('#ECB22E');
  });

  it('tells a critical incident by its fastest tier, and lists every tier', () => {
    const escalated = view('escalated');

    // 0.95 x 30d / 94 = 7h 16m, where the threshold's figures said "14.4x, 2d 1h".
    expect(escalated.title).toBe('[CRITICAL] api-latency SLO: burning 94.0x now, budget exhausted in 7h 16m');
    expect(escalated.facts.find((fact) => fact.label === 'Tiers firing')?.value).toBe('critical 1h, warning 6h');
    expect(escalated.tiers.map((tier) => tier.text)).toEqual([
      'critical 1h: firing since 10:40 UTC (1 min ago), 20.1x over 1h',
      'warning 6h: firing since 10:00 UTC (41 min ago), 6.9x over 6h',
    ]);
    expect(escalated.color).toBe('#E01E5A');
  });

  it('after a de-escalation shows the current severity and the peak', () => {
    const deEscalated = view('de_escalated');

    expect(deEscalated.title).toMatch(/^\[WARNING\] api-latency SLO: burning 7\.2x now/);
    expect(deEscalated.facts[0]).toEqual({ label: 'Severity', value: 'WARNING (peaked at CRITICAL)' });
    expect(deEscalated.tiers.map((tier) => tier.state)).toEqual(['firing', 'cleared']);
    expect(deEscalated.tiers[1]!.text).toBe('critical 1h: cleared at 11:10 UTC (1 min ago), 20.1x over 1h');
  });

  it('says plainly when the figures are the threshold’s, and projects them on a full budget', () => {
    const tier = warningTier(
      {},
      {
        figuresSource: 'threshold',
        burnRate: 14.4,
        burnRateShort: null,
        burnRateLong: null,
        burnRateThreshold: 14.4,
        budgetRemaining: null,
        longWindow: '1h',
        shortWindow: '5m',
      },
    );
    const threshold = renderIncident(incident({ tiers: { [tier.id]: tier } }), at(1));

    expect(threshold.title).toBe('[WARNING] api-latency SLO: burning at 14.4x+ over 1h (threshold figures), a full budget lasts 2d 2h');
    expect(threshold.headline).toBe(
      "api-latency SLO is burning its 30d error budget at 14.4x or more over 1h: these are the alert rule's threshold figures, the alert carried no live ones. At that rate a full budget lasts 2d 2h.",
    );
    expect(threshold.facts.slice(1, 3)).toEqual([
      { label: 'Burn rate', value: "14.4x or more over 1h (the alert's threshold, no live figures)" },
      { label: 'Budget exhausted in', value: '2d 2h at that rate, of a full budget' },
    ]);
    expect(threshold.facts.map((fact) => fact.label)).not.toContain('Budget remaining');
  });

  it('says the budget is exhausted once none is left', () => {
    const tier = warningTier({}, { budgetRemaining: -0.12 });
    const exhausted = renderIncident(incident({ tiers: { [tier.id]: tier } }), at(1));

    expect(exhausted.title).toBe('[WARNING] api-latency SLO: burning 7.2x now, budget exhausted');
    expect(exhausted.facts.find((fact) => fact.label === 'Budget exhausted in')?.value).toBe('exhausted');
    expect(exhausted.headline).toContain('The budget is exhausted (-12% left).');
  });

  it('marks a stale tier, neither firing nor resolved', () => {
    const stale = warningTier({ stale: true, lastSeenAt: at(-300) });
    const shown = renderIncident(incident({ tiers: { [stale.id]: stale } }), at(200));

    expect(shown.facts.find((fact) => fact.label === 'Tiers firing')?.value).toBe('warning 6h (stale)');
    expect(shown.tiers[0]).toMatchObject({ state: 'stale', text: 'warning 6h: stale: no alert confirmed it since 05:00 UTC (8h 20m ago), 6.9x over 6h' });
  });

  it('does not repeat the subject of an alert whose summary names it (MaestroSLOSLIAbsent)', () => {
    const absent = warningTier(
      {
        id: 'MaestroSLOSLIAbsent/warning',
        alertname: 'MaestroSLOSLIAbsent',
        summary: 'api-latency SLO has no data: http_request_duration_seconds_bucket is absent',
      },
      { burnRate: null, burnRateShort: null, burnRateLong: null, burnRateThreshold: null, budgetRemaining: null, longWindow: null, shortWindow: null },
    );
    const open = incident({ alertname: 'MaestroSLOSLIAbsent', tiers: { [absent.id]: absent } });

    expect(renderIncident(open, at(1)).title).toBe('[WARNING] api-latency SLO has no data: http_request_duration_seconds_bucket is absent');
    expect(renderIncident(open, at(1)).subject).toBe('api-latency SLO MaestroSLOSLIAbsent');
    const resolved = { ...open, state: 'resolved' as const, resolvedAt: new Date(at(10)).toISOString(), tiers: { [absent.id]: { ...absent, firing: false } } };
    expect(renderIncident(resolved, at(11)).title).toBe('[RESOLVED] api-latency SLO: MaestroSLOSLIAbsent resolved after 10m');
  });

  it('reads every time as people read them, never as ISO', () => {
    for (const step of escalationStory()) {
      const shown = JSON.stringify(renderIncident(step.incident, step.now));
      expect(shown).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d/);
    }
  });
});

describe('renderIncident once it resolves or clears', () => {
  it('reads as resolved: past tense, how long it lasted, its peak burn and the budget it consumed', () => {
    const resolved = view('resolved');

    expect(resolved.title).toBe('[RESOLVED] api-latency SLO: burned for 4h 30m, peak 94.0x, 6% of the budget consumed');
    expect(resolved.headline).toBe(
      'Resolved: api-latency SLO burned its 30d error budget from 10:00 UTC to 14:30 UTC (4h 30m); its burn peaked at 94.0x; it consumed 6% of the budget (97% left when it opened, 91% when it resolved).',
    );
    expect(resolved.facts).toEqual([
      { label: 'Lasted', value: '4h 30m' },
      { label: 'Peak severity', value: 'CRITICAL' },
      { label: 'Peak burn', value: '94.0x' },
      { label: 'Budget consumed', value: '6% (97% → 91% left)' },
      { label: 'Objective', value: '99.5% over 30d' },
      { label: 'Service', value: 'maestro-api' },
      { label: 'Opened', value: '10:00 UTC (4h 31m ago)' },
      { label: 'Resolved', value: '14:30 UTC (1 min ago)' },
    ]);
    expect(resolved.color).toBe('#2EB67D');
    expect(resolved.lasted).toBe('4h 30m');
    expect(resolved.headline).not.toMatch(/is burning/);
  });

  it('leaves out the budget consumed when the budget at open or at resolve is unknown', () => {
    const resolved = { ...story.resolved!.incident, budgetRemainingAtOpen: null };

    const shown = renderIncident(resolved, story.resolved!.now);
    expect(shown.title).toBe('[RESOLVED] api-latency SLO: burned for 4h 30m, peak 94.0x');
    expect(shown.facts.find((fact) => fact.label === 'Budget consumed')?.value).toBe('unknown (91% left)');
  });

  it('while it waits out the hold-down, says when it resolves', () => {
    const cleared = warningTier({ firing: false, clearedAt: new Date(at(60)).toISOString() });
    const resolving = incident({ state: 'resolving', resolvingSince: new Date(at(60)).toISOString(), holdUntil: at(65), tiers: { [cleared.id]: cleared } });

    const shown = renderIncident(resolving, at(61));
    expect(shown.title).toBe('[WARNING, CLEARING] api-latency SLO: every tier cleared, resolves at 11:05 UTC unless one fires again');
    expect(shown.facts.find((fact) => fact.label === 'Resolves')?.value).toBe('11:05 UTC (in 4 min)');
  });
});

describe('renderIncident links', () => {
  it('links only absolute http(s) URLs, and offers a silence of the incident key while it is not resolved', () => {
    const hostile = incident({
      links: { runbookUrl: 'javascript:alert(1)', dashboardUrl: '/relative', generatorUrl: 'not a url', alertmanagerUrl: 'http://am.example:9093/' },
    });

    const links = renderIncident(hostile, at(1)).links;
    expect(links.map((link) => link.label)).toEqual(['Silence']);
    expect(links[0]!.url).toBe(
      `http://am.example:9093/#/silences/new?filter=${encodeURIComponent('{alertname="MaestroSLOBurnRate",service="maestro-api",slo="api-latency"}')}`,
    );
    expect(view('resolved').links.map((link) => link.label)).toEqual(['Runbook', 'Dashboard', 'Prometheus expression']);
  });

  it('builds the silence form URL from the externalURL and quoted, sorted label matchers', () => {
    const url = silenceUrl('http://am.example:9093/', { zone: 'eu "west"', alertname: 'A\\B' });

    expect(url).toBe(`http://am.example:9093/#/silences/new?filter=${encodeURIComponent('{alertname="A\\\\B",zone="eu \\"west\\""}')}`);
    expect(silenceUrl('', { a: 'b' })).toBeNull();
  });

  it('silences the alert’s own labels when the incident key is not made of labels (one incident per fingerprint)', () => {
    const tier = criticalTier({ labels: { alertname: 'DiskFull', instance: 'db-1' } });
    const byFingerprint = incident({ slo: null, keyLabels: { fingerprint: 'a1b2' }, tiers: { [tier.id]: tier } });

    const silence = renderIncident(byFingerprint, at(41)).links.find((link) => link.label === 'Silence')!;
    expect(decodeURIComponent(silence.url)).toContain('{alertname="DiskFull",instance="db-1"}');
  });
});

describe('times and figures as people read them', () => {
  const now = Date.parse('2026-11-27T12:14:00Z');

  it.each([
    ['2026-11-27T12:10:00Z', '12:10 UTC (4 min ago)'],
    ['2026-11-27T12:13:30Z', '12:13 UTC (just now)'],
    ['2026-11-27T10:09:00Z', '10:09 UTC (2h 5m ago)'],
    ['2026-11-26T23:50:00Z', '26 Nov 23:50 UTC (12h 24m ago)'],
    ['2025-12-31T08:00:00Z', '31 Dec 2025 08:00 UTC (331d 4h ago)'],
    ['2026-11-27T12:20:00Z', '12:20 UTC (in 6 min)'],
  ])('%s reads %s', (time, text) => {
    expect(formatTime(time, now)).toBe(text);
  });

  it('gives a date that does not change with the day it is read on', () => {
    expect(formatDateTime('2026-11-27T10:00:00Z')).toBe('27 Nov 2026 10:00 UTC');
    expect(formatClock(T0, T0 + 86_400_000)).toBe('27 Nov 10:00 UTC');
    expect(formatTime('not a time', now)).toBeNull();
  });

  it.each([
    [0.05, '5%'],
    [0.1, '10%'],
    [0.0213, '2.1%'],
    [1.2, '120%'],
  ])('formats budget fraction %d as %s', (fraction, text) => {
    expect(formatFraction(fraction)).toBe(text);
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
