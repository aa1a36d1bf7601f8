import type { ReceiverConfig } from '../domain/channels.js';
import type { Logger } from '../observability/logger.js';
import { EMAIL_INTERESTS, EmailNotifier } from './email/email.js';
import { composeIncidentMail } from './email/message.js';
import { LogNotifier } from './log/log.js';
import { composePagerDutyEvent, PAGERDUTY_INTERESTS } from './pagerduty/event.js';
import { PagerDutyNotifier } from './pagerduty/pagerduty.js';
import { renderIncident } from './render/incident-view.js';
import { composeSlackMessage, composeThreadReply, REPLY_DECISIONS } from './slack/message.js';
import { DEFAULT_SLACK_UPDATE_INTERVAL_MS, SLACK_INTERESTS, SlackNotifier } from './slack/slack.js';
import type { IncidentNotifier, SyncContext } from './types.js';

/** Channel-wide settings from the environment; a missing credential means a dry run. */
export interface ChannelSettings {
  /** `minUpdateIntervalMs`: least time between two updates of one incident's message (default 3000). */
  slack: { botToken?: string; apiUrl: string; timeoutMs: number; minUpdateIntervalMs?: number; publicUrl?: string };
  email: { smtpUrl?: string; from: string; timeoutMs: number; connections: number };
  /** `routingKey` is the default for receivers that name none. */
  pagerduty: { routingKey?: string; server: string; timeoutMs: number };
}

export interface NotifierDeps {
  logger: Logger;
  /**
   * No longer used: the notifiers keep no state of their own (the notification log holds what each
   * channel answered). Accepted so that callers written for the per-alert notifiers need not change.
   */
  redis?: unknown;
  keyPrefix?: string;
}

export interface BuiltNotifiers {
  /** By receiver name. */
  notifiers: Map<string, IncidentNotifier>;
  /** Receivers whose channel has no credentials and only logs what it would send. */
  fallbacks: string[];
}

export function buildNotifiers(receivers: ReceiverConfig[], channels: ChannelSettings, deps: NotifierDeps): BuiltNotifiers {
  const notifiers = new Map<string, IncidentNotifier>();
  for (const receiver of receivers) notifiers.set(receiver.name, buildNotifier(receiver, channels, deps.logger));
  const fallbacks = [...notifiers].filter(([, notifier]) => notifier.dryRun).map(([name]) => name);
  return { notifiers, fallbacks };
}

/** Closes every notifier (the SMTP pools), even when one fails to. */
export async function closeNotifiers(notifiers: Iterable<IncidentNotifier>): Promise<void> {
  await Promise.allSettled([...notifiers].map((notifier) => notifier.close()));
}

function buildNotifier(receiver: ReceiverConfig, channels: ChannelSettings, logger: Logger): IncidentNotifier {
  const dryRun = (like: Pick<IncidentNotifier, 'interests' | 'minUpdateIntervalMs'>, render: (context: SyncContext) => unknown) =>
    new LogNotifier({ kind: receiver.kind, receiver: receiver.name, logger, ...like, render });
  switch (receiver.kind) {
    case 'slack': {
      const { botToken, apiUrl, timeoutMs } = channels.slack;
      const minUpdateIntervalMs = channels.slack.minUpdateIntervalMs ?? DEFAULT_SLACK_UPDATE_INTERVAL_MS;
      const { channel } = receiver.slack;
      const { publicUrl } = channels.slack;
      if (botToken) return new SlackNotifier({ receiver: receiver.name, channel, token: botToken, apiUrl, timeoutMs, minUpdateIntervalMs, publicUrl, logger });
      return dryRun({ interests: SLACK_INTERESTS, minUpdateIntervalMs }, (context) => renderSlack(channel, context, publicUrl));
    }
    case 'email': {
      const addressing = { from: receiver.email.from ?? channels.email.from, to: receiver.email.to };
      const { smtpUrl, timeoutMs, connections } = channels.email;
      return smtpUrl
        ? new EmailNotifier({ receiver: receiver.name, ...addressing, smtpUrl, timeoutMs, connections })
        : dryRun({ interests: EMAIL_INTERESTS, minUpdateIntervalMs: 0 }, (context) => composeIncidentMail(context, addressing));
    }
    case 'pagerduty': {
      const routingKey = receiver.pagerduty.routingKey ?? channels.pagerduty.routingKey;
      const { server, timeoutMs } = channels.pagerduty;
      return routingKey
        ? new PagerDutyNotifier({ receiver: receiver.name, routingKey, server, timeoutMs })
        : dryRun({ interests: PAGERDUTY_INTERESTS, minUpdateIntervalMs: 0 }, composePagerDutyEvent);
    }
  }
}

/** What the Slack notifier would call: a post, or an update and maybe a thread reply. */
export function renderSlack(channel: string, context: SyncContext, publicUrl?: string): unknown {
  const view = renderIncident(context.incident, context.now, { publicUrl });
  const message = composeSlackMessage(view, context.receiver);
  const posted = context.told?.receipt.slack;
  if (posted === undefined) return { method: 'chat.postMessage', channel, ...message };
  return {
    method: 'chat.update',
    channel: posted.channel,
    ts: posted.ts,
    ...message,
    ...(REPLY_DECISIONS.has(context.decision) ? { reply: { thread_ts: posted.ts, ...composeThreadReply(context, view) } } : {}),
  };
}
