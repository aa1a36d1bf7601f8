import { performance } from 'node:perf_hooks';
import { startPagerDutyPeer } from '../test/peers/pagerduty-peer.js';
import { startSlackPeer } from '../test/peers/slack-peer.js';
import { startSmtpPeer } from '../test/peers/smtp-peer.js';
import type { ChannelKind } from '../src/notifiers/types.js';

/**
 * The Slack, SMTP and PagerDuty (TLS) test peers in a process of their own, stamping the arrival of
 * every notification so the bench can measure from the webhook's 202 to the channel's receipt.
 * Both sides read the same wall clock at sub-millisecond resolution (timeOrigin + now()).
 */
export type PeersRequest =
  | { type: 'start'; slackToken: string; routingKey: string }
  | { type: 'count' }
  | { type: 'receipts' };

export interface PeerEndpoints {
  slackApiUrl: string;
  smtpUrl: string;
  pagerdutyServer: string;
}

export interface Receipt {
  channel: ChannelKind;
  /** The alert's `instance` label; null when the request carried no firing notification. */
  instance: string | null;
  /** Epoch ms, fractional. */
  at: number;
}

const receipts: Receipt[] = [];
const INSTANCE_LABEL = /instance=([a-z0-9]+-\d+)/;

/** Stamps each item a peer records, as it records it: the peers stay as the tests use them. */
function stampArrivals<T>(received: T[], channel: ChannelKind, instanceIn: (item: T) => string | null): void {
  received.push = (...items: T[]) => {
    const at = performance.timeOrigin + performance.now();
    for (const item of items) receipts.push({ channel, instance: instanceIn(item), at });
    return Array.prototype.push.apply(received, items);
  };
}

async function start(slackToken: string, routingKey: string): Promise<PeerEndpoints> {
  const [slack, smtp, pagerduty] = await Promise.all([
    startSlackPeer({ token: slackToken }),
    startSmtpPeer(),
    startPagerDutyPeer({ routingKeys: [routingKey] }),
  ]);
  stampArrivals(slack.received, 'slack', (call) =>
    call.method === 'chat.postMessage' ? (INSTANCE_LABEL.exec(JSON.stringify(call.args))?.[1] ?? null) : null,
  );
  stampArrivals(smtp.received, 'email', (mail) => INSTANCE_LABEL.exec(mail.parsed.text ?? '')?.[1] ?? null);
  stampArrivals(pagerduty.received, 'pagerduty', (request) =>
    request.event?.event_action === 'trigger' ? (request.event.payload?.custom_details?.Labels?.instance ?? null) : null,
  );
  return { slackApiUrl: slack.url, smtpUrl: smtp.url(), pagerdutyServer: pagerduty.server };
}

process.on('message', (request: PeersRequest) => {
  switch (request.type) {
    case 'start':
      start(request.slackToken, request.routingKey).then(
        (endpoints) => process.send!(endpoints),
        (error: Error) => process.send!({ error: error.message }),
      );
      return;
    case 'count':
      process.send!({ count: receipts.length });
      return;
    case 'receipts':
      process.send!({ receipts });
      return;
  }
});
process.once('disconnect', () => process.exit(0));
