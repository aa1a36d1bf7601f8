import type { Incident } from './types.js';

/**
 * What every channel shows of an incident's figures, as one comparable string: a sync compares it
 * with what a receiver was told. Rounded as shown (burn to 0.1x, budget to 0.1 point, exhaustion to
 * the minute), so a change nobody could see sends nothing.
 */
export function figuresDigest(incident: Incident): string {
  const round = (value: number | null, step: number) => (value === null ? '-' : String(Math.round(value / step)));
  const tiers = Object.values(incident.tiers)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((tier) => {
      const f = tier.figures;
      return [
        tier.id,
        tier.firing ? (tier.stale ? 'stale' : 'firing') : 'cleared',
        round(f.burnRate, 0.1),
        round(f.burnRateShort, 0.1),
        round(f.burnRateLong, 0.1),
        round(f.budgetRemaining, 0.001),
        round(f.timeToExhaustionSeconds, 60),
      ].join(':');
    });
  return [incident.state, ...tiers].join('|');
}

/**
 * What a channel shows of the incident's silences and of PagerDuty's resolve, as one comparable
 * string (acknowledgements have their own decision): a change of it is `status_changed`.
 */
export function statusDigest(incident: Incident): string {
  const silenced = incident.silenced === null ? '-' : `${incident.silenced.until}:${incident.silenced.by}`;
  const pagerduty = incident.pagerdutyResolved && incident.state !== 'resolved' ? `${incident.pagerdutyResolved.at}:${incident.lastEscalatedAt ?? ''}` : '-';
  return `silenced=${silenced}|pagerduty=${pagerduty}`;
}
