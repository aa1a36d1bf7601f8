import { createHash } from 'node:crypto';
import type { event } from '@pagerduty/pdjs';
import { renderAlert } from '../render/alert-view.js';
import { singleLine, truncate } from '../../render/text.js';
import type { Notification } from '../../types.js';

/** pdjs exports no types by name: take them from its `event` function. */
export type EventParameters = Parameters<typeof event>[0];
export type PagerDutyEvent = Omit<EventParameters['data'], 'routing_key'>;

/** Events API v2 limits, plus a cap on the other free-text fields (the whole event may not pass 512 KB). */
export const PAGERDUTY_LIMITS = { summary: 1024, dedupKey: 255, field: 1024, detail: 4096 };

const KEY_PREFIX = 'alertcenter/';

/** Stable per alert (labels), so the resolve closes the incident the trigger opened. */
export function dedupKey(fingerprint: string): string {
  const key = `${KEY_PREFIX}${fingerprint}`;
  return key.length <= PAGERDUTY_LIMITS.dedupKey ? key : `${KEY_PREFIX}sha256:${createHash('sha256').update(fingerprint).digest('hex')}`;
}

/** The event without its routing key: the notifier adds that, the dry run never has one. */
export function composePagerDutyEvent(notification: Notification): PagerDutyEvent {
  const { alert } = notification;
  const view = renderAlert(alert);
  const field = (text: string) => truncate(singleLine(text), PAGERDUTY_LIMITS.field);
  const detail = (text: string) => truncate(text, PAGERDUTY_LIMITS.detail);
  const optional = (name: string, value: string | null) => (value === null ? {} : { [name]: field(value) });
  return {
    event_action: alert.status === 'firing' ? 'trigger' : 'resolve',
    dedup_key: dedupKey(alert.fingerprint),
    payload: {
      summary: truncate(singleLine(view.title), PAGERDUTY_LIMITS.summary),
      source: field(alert.service ?? alert.labels.instance ?? alert.labels.job ?? 'alertcenter'),
      severity: alert.severity,
      timestamp: alert.startsAt,
      ...optional('component', alert.service),
      ...optional('group', alert.slo),
      class: field(alert.alertname),
      custom_details: {
        ...Object.fromEntries(view.facts.map((fact) => [fact.label, detail(fact.value)])),
        ...(view.summary === null ? {} : { Summary: detail(view.summary) }),
        ...(view.description === null ? {} : { Description: detail(view.description) }),
        Labels: Object.fromEntries(view.labels.map(([name, value]) => [field(name), detail(value)])),
      },
    },
    links: view.links.map((link) => ({ href: link.url, text: link.label })),
  };
}
