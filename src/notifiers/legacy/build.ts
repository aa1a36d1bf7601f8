/**
 * LEGACY: the per-alert notifiers of the old pipeline (src/queue, src/server.ts), kept only so that
 * it runs until the incident pipeline replaces it. Delete this folder with it. The channels now tell
 * incidents: see src/notifiers/build.ts.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../../observability/logger.js';
import type { ReceiverConfig } from '../../routing/types.js';
import { EmailNotifier } from './email/email.js';
import { composeMail } from './email/message.js';
import { LogNotifier } from './log/log.js';
import { composePagerDutyEvent } from './pagerduty/event.js';
import { PagerDutyNotifier } from './pagerduty/pagerduty.js';
import { renderAlert } from './render/alert-view.js';
import { composeSlackMessage } from './slack/message.js';
import { SlackNotifier } from './slack/slack.js';
import { SlackThreadStore } from './slack/thread-store.js';
import type { Notification, Notifier } from '../types.js';

/** Channel-wide settings from the environment; a missing credential means a dry run. */
export interface ChannelSettings {
  slack: { botToken?: string; apiUrl: string; timeoutMs: number };
  email: { smtpUrl?: string; from: string; timeoutMs: number; connections: number };
  /** `routingKey` is the default for receivers that name none. */
  pagerduty: { routingKey?: string; server: string; timeoutMs: number };
}

export interface NotifierDeps {
  redis: Redis;
  /** Prefix of the Redis keys that hold Slack message timestamps. */
  keyPrefix: string;
  logger: Logger;
}

export interface BuiltNotifiers {
  /** By receiver name. */
  notifiers: Map<string, Notifier>;
  /** Receivers whose channel has no credentials and only logs what it would send. */
  fallbacks: string[];
}

export function buildNotifiers(receivers: ReceiverConfig[], channels: ChannelSettings, deps: NotifierDeps): BuiltNotifiers {
  const threads = new SlackThreadStore(deps.redis, deps.keyPrefix);
  const notifiers = new Map<string, Notifier>();
  for (const receiver of receivers) notifiers.set(receiver.name, buildNotifier(receiver, channels, threads, deps.logger));
  const fallbacks = [...notifiers].filter(([, notifier]) => notifier.dryRun).map(([name]) => name);
  return { notifiers, fallbacks };
}

/** Closes every notifier (the SMTP pools), even when one fails to. */
export async function closeNotifiers(notifiers: Iterable<Notifier>): Promise<void> {
  await Promise.allSettled([...notifiers].map((notifier) => notifier.close()));
}

function buildNotifier(receiver: ReceiverConfig, channels: ChannelSettings, threads: SlackThreadStore, logger: Logger): Notifier {
  const dryRun = (render: (notification: Notification) => unknown) =>
    new LogNotifier({ kind: receiver.kind, receiver: receiver.name, logger, render });
  switch (receiver.kind) {
    case 'slack': {
      const { botToken, apiUrl, timeoutMs } = channels.slack;
      const { channel } = receiver.slack;
      return botToken
        ? new SlackNotifier({ receiver: receiver.name, channel, token: botToken, apiUrl, timeoutMs, threads, logger })
        : dryRun((notification) => ({ channel, ...composeSlackMessage(renderAlert(notification.alert)) }));
    }
    case 'email': {
      const addressing = { from: receiver.email.from ?? channels.email.from, to: receiver.email.to };
      const { smtpUrl, timeoutMs, connections } = channels.email;
      return smtpUrl
        ? new EmailNotifier({ receiver: receiver.name, ...addressing, smtpUrl, timeoutMs, connections })
        : dryRun((notification) => composeMail(notification, addressing));
    }
    case 'pagerduty': {
      const routingKey = receiver.pagerduty.routingKey ?? channels.pagerduty.routingKey;
      const { server, timeoutMs } = channels.pagerduty;
      return routingKey
        ? new PagerDutyNotifier({ receiver: receiver.name, routingKey, server, timeoutMs })
        : dryRun(composePagerDutyEvent);
    }
  }
}
