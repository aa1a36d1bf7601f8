import type { ChatPostMessageArguments } from '@slack/web-api';
import { formatClock, formatTime } from '../render/format.js';
import { acknowledgedLine, type Fact, type IncidentView } from '../render/incident-view.js';
import { escapeSlack, singleLine, truncate } from '../render/text.js';
import type { SyncContext } from '../types.js';

// @slack/types is not a direct dependency: take its shapes from the method's arguments.
type SlackAttachment = Extract<ChatPostMessageArguments, { attachments: unknown }>['attachments'][number];
type SlackBlock = NonNullable<SlackAttachment['blocks']>[number];

/** Block Kit limits; a longer field makes Slack reject the whole message. A section takes at most 10 fields. */
export const SLACK_LIMITS = { header: 150, section: 3000, field: 2000, fields: 10, button: 75, url: 3000, fallback: 3000 };

/** The metadata event of an incident's message: how a sync that lost its receipt finds the message again. */
export const INCIDENT_EVENT_TYPE = 'alertcenter_incident';
/** The metadata event of a thread reply (never matched by the lookup; names the notification it tells). */
export const INCIDENT_UPDATE_EVENT_TYPE = 'alertcenter_incident_update';

/**
 * The buttons' action ids; each button's value is the incident id. The interactivity request URL
 * (POST /api/v1/slack/interactions) acts on these; link buttons (`link-N`) reach it too, and are ignored.
 */
export const SLACK_ACTIONS = {
  acknowledge: 'alertcenter_acknowledge',
  silence1h: 'alertcenter_silence_1h',
  silence4h: 'alertcenter_silence_4h',
  unsilence: 'alertcenter_unsilence',
} as const;

export type SlackActionId = (typeof SLACK_ACTIONS)[keyof typeof SLACK_ACTIONS];

/** How long each silence button silences. */
export const SILENCE_BUTTONS: Partial<Record<SlackActionId, number>> = {
  [SLACK_ACTIONS.silence1h]: 3_600_000,
  [SLACK_ACTIONS.silence4h]: 4 * 3_600_000,
};

export interface SlackMetadata {
  event_type: string;
  event_payload: Record<string, string | number | boolean>;
}

/** The parts of chat.postMessage / chat.update arguments that carry the incident. */
export interface SlackMessage {
  /** Fallback for notifications and clients without Block Kit; mrkdwn, so escaped. */
  text: string;
  attachments: SlackAttachment[];
  metadata: SlackMetadata;
}

/**
 * The incident's one message, as it stands now. Untrusted text goes into mrkdwn escaped (`&`, `<`,
 * `>`), so no label can ping (`<!channel>`, `<@U123>`) or hide a link (`<http://evil|runbook>`);
 * text objects are also `verbatim`, so Slack does not turn bare URLs or `@here` into links or
 * mentions. The header and button labels are plain_text, which Slack never parses for mentions or links.
 */
export function composeSlackMessage(view: IncidentView, receiver: string): SlackMessage {
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(singleLine(view.title), SLACK_LIMITS.header) } },
    { type: 'section', text: mrkdwn(view.headline, SLACK_LIMITS.section) },
  ];
  for (let i = 0; i < view.facts.length; i += SLACK_LIMITS.fields) {
    blocks.push({ type: 'section', fields: view.facts.slice(i, i + SLACK_LIMITS.fields).map(factField) });
  }
  if (view.tiers.length > 0) {
    blocks.push({ type: 'context', elements: [mrkdwn(`Tiers: ${view.tiers.map((tier) => tier.text).join(' · ')}`, SLACK_LIMITS.section)] });
  }
  for (const text of [view.summary, view.description]) {
    if (text) blocks.push({ type: 'section', text: mrkdwn(text, SLACK_LIMITS.section) });
  }
  if (view.labels.length > 0) {
    const labels = view.labels.map(([name, value]) => `${name}=${value}`).join(', ');
    blocks.push({ type: 'context', elements: [mrkdwn(`Labels: ${labels}`, SLACK_LIMITS.section)] });
  }
  if (view.status.length > 0) blocks.push({ type: 'section', text: mrkdwn(view.status.map((line) => `*${line}*`).join('\n'), SLACK_LIMITS.section) });
  const actions = actionButtons(view);
  const links = view.links
    .filter((link) => link.url.length <= SLACK_LIMITS.url)
    .map((link, i) => ({
      type: 'button' as const,
      action_id: `link-${i}`,
      // Beside the silence buttons, Alertmanager's own form is for silences of another shape or length.
      text: { type: 'plain_text' as const, text: truncate(link.label === 'Silence' ? 'Custom silence' : link.label, SLACK_LIMITS.button) },
      url: link.url,
    }));
  if (actions.length + links.length > 0) blocks.push({ type: 'actions', elements: [...actions, ...links] });
  return {
    text: truncate(`${singleLine(view.title)}\n${view.headline}`, SLACK_LIMITS.fallback, escapeSlack),
    attachments: [{ color: view.color, blocks }],
    metadata: {
      event_type: INCIDENT_EVENT_TYPE,
      event_payload: { incident_id: view.id, receiver, state: view.state, severity: view.severity },
    },
  };
}

/** Acknowledge while nobody has, Silence 1h and 4h while not silenced, Unsilence while silenced; none once resolved. */
function actionButtons(view: IncidentView) {
  if (view.actions === null) return [];
  const button = (action_id: SlackActionId, text: string, style?: 'primary' | 'danger') => ({
    type: 'button' as const,
    action_id,
    value: view.id,
    text: { type: 'plain_text' as const, text },
    ...(style === undefined ? {} : { style }),
  });
  const buttons = [];
  if (!view.actions.acknowledged) buttons.push(button(SLACK_ACTIONS.acknowledge, 'Acknowledge', 'primary'));
  if (view.actions.silenced) buttons.push(button(SLACK_ACTIONS.unsilence, 'Unsilence', 'danger'));
  else buttons.push(button(SLACK_ACTIONS.silence1h, 'Silence 1h'), button(SLACK_ACTIONS.silence4h, 'Silence 4h'));
  return buttons;
}

/** The decisions that also leave a reply in the message's thread; a figures or silence change only updates it. */
export const REPLY_DECISIONS: ReadonlySet<SyncContext['decision']> = new Set([
  'escalated',
  'de_escalated',
  'reminder_due',
  'resolved',
  'acknowledged',
  'unacknowledged',
]);

/**
 * The reply in the message's thread: what changed, with the figures as they were at that moment
 * (the message itself shows only the latest ones). mrkdwn, escaped.
 */
export function composeThreadReply(context: SyncContext, view: IncidentView): { text: string; metadata: SlackMetadata } {
  const { incident, told, now, decision } = context;
  const at = formatClock(now, now);
  const from = (told?.severity ?? incident.peakSeverity).toUpperCase();
  const to = incident.severity.toUpperCase();
  const figures = view.figures === null ? '' : ` ${view.figures}`;
  let text: string;
  switch (decision) {
    case 'escalated':
      text = `:rotating_light: Escalated from ${from} to ${to} at ${at}.${figures}`;
      // PagerDuty sends no notification for a trigger on an acknowledged incident: say it here, so the escalation is seen.
      if (incident.acknowledged !== null) {
        text += ` ${acknowledgedLine(incident.acknowledged, now)}: PagerDuty notifies nobody of an escalation of an acknowledged incident, so this one pages no one.`;
      }
      break;
    case 'acknowledged':
      text = `:eyes: ${incident.acknowledged === null ? 'Acknowledged' : acknowledgedLine(incident.acknowledged, now)}.`;
      break;
    case 'unacknowledged':
      text = `:leftwards_arrow_with_hook: No longer acknowledged, ${at}.`;
      break;
    case 'de_escalated':
      text = `:arrow_down: De-escalated from ${from} to ${to} at ${at}: the ${from.toLowerCase()} tiers cleared.${figures}`;
      break;
    case 'reminder_due':
      text = `:bell: Still firing at ${to}, opened ${formatTime(incident.openedAt, now) ?? incident.openedAt}.${figures}`;
      break;
    case 'resolved':
      text = `:white_check_mark: ${view.headline}${view.figures === null ? '' : ` Last figures while it fired: ${view.figures}`}`;
      break;
    default:
      text = `${singleLine(view.title)}.${figures}`;
  }
  return {
    text: truncate(text, SLACK_LIMITS.section, escapeSlack),
    metadata: {
      event_type: INCIDENT_UPDATE_EVENT_TYPE,
      event_payload: { incident_id: incident.id, receiver: context.receiver, decision, sent: (told?.sent ?? 0) + 1 },
    },
  };
}

function factField(fact: Fact) {
  const label = `*${escapeSlack(fact.label)}*\n`;
  return {
    type: 'mrkdwn' as const,
    text: label + truncate(fact.value, SLACK_LIMITS.field - label.length, escapeSlack),
    verbatim: true,
  };
}

function mrkdwn(text: string, limit: number) {
  return { type: 'mrkdwn' as const, text: truncate(text, limit, escapeSlack), verbatim: true };
}
