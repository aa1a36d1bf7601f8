import type { ChatPostMessageArguments } from '@slack/web-api';
import { colorOf, type AlertView, type Fact } from '../render/alert-view.js';
import { escapeSlack, singleLine, truncate } from '../../render/text.js';

// @slack/types is not a direct dependency: take its shapes from the method's arguments.
type SlackAttachment = Extract<ChatPostMessageArguments, { attachments: unknown }>['attachments'][number];
type SlackBlock = NonNullable<SlackAttachment['blocks']>[number];

/** Block Kit limits; a longer field makes Slack reject the whole message. */
export const SLACK_LIMITS = { header: 150, section: 3000, field: 2000, button: 75, url: 3000, fallback: 3000 };

/** The parts of chat.postMessage / chat.update arguments that carry the alert. */
export interface SlackMessage {
  /** Fallback for notifications and clients without Block Kit; mrkdwn, so escaped. */
  text: string;
  attachments: SlackAttachment[];
}

/**
 * Untrusted text goes into mrkdwn escaped (`&`, `<`, `>`), so no label can ping (`<!channel>`,
 * `<@U123>`) or hide a link (`<http://evil|runbook>`); text objects are also `verbatim`, so Slack
 * does not turn bare URLs or `@here` into links or mentions. The header and button labels are
 * plain_text, which Slack never parses for mentions or links.
 */
export function composeSlackMessage(view: AlertView): SlackMessage {
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(singleLine(view.title), SLACK_LIMITS.header) } },
    { type: 'section', fields: view.facts.map(factField) },
  ];
  for (const text of [view.summary, view.description]) {
    if (text) blocks.push({ type: 'section', text: mrkdwn(text, SLACK_LIMITS.section) });
  }
  if (view.labels.length > 0) {
    const labels = view.labels.map(([name, value]) => `${name}=${value}`).join(', ');
    blocks.push({ type: 'context', elements: [mrkdwn(`Labels: ${labels}`, SLACK_LIMITS.section)] });
  }
  const buttons = view.links.filter((link) => link.url.length <= SLACK_LIMITS.url);
  if (buttons.length > 0) {
    blocks.push({
      type: 'actions',
      elements: buttons.map((link, i) => ({
        type: 'button' as const,
        action_id: `link-${i}`,
        text: { type: 'plain_text' as const, text: truncate(link.label, SLACK_LIMITS.button) },
        url: link.url,
      })),
    });
  }
  const fallback = [view.title, view.summary].filter(Boolean).join('\n');
  return {
    text: truncate(fallback, SLACK_LIMITS.fallback, escapeSlack),
    attachments: [{ color: colorOf(view), blocks }],
  };
}

/** The short reply in the firing message's thread. */
export function composeResolvedReply(view: AlertView): string {
  const after = view.firedFor === null ? '' : ` after ${view.firedFor}`;
  return truncate(`:white_check_mark: Resolved${after}.`, SLACK_LIMITS.section, escapeSlack);
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
