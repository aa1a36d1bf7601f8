import { type PagerDutyPeer, startPagerDutyPeer } from './pagerduty-peer.js';
import { type SlackPeer, startSlackPeer } from './slack-peer.js';
import { type SmtpPeer, startSmtpPeer } from './smtp-peer.js';

export const PEER_SLACK_TOKEN = 'xoxb-test-channel-peers';
export const PEER_ROUTING_KEY = 'R0UTINGKEY0000000000000000PEERS0';

/** The three channel peers a router delivers to, and the router settings that point at them. */
export interface ChannelPeers {
  slack: SlackPeer;
  smtp: SmtpPeer;
  pagerduty: PagerDutyPeer;
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startChannelPeers(): Promise<ChannelPeers> {
  const [slack, smtp, pagerduty] = await Promise.all([
    startSlackPeer({ token: PEER_SLACK_TOKEN }),
    startSmtpPeer(),
    startPagerDutyPeer({ routingKeys: [PEER_ROUTING_KEY] }),
  ]);
  return {
    slack,
    smtp,
    pagerduty,
    env: {
      SLACK_BOT_TOKEN: PEER_SLACK_TOKEN,
      SLACK_API_URL: slack.url,
      SMTP_URL: smtp.url(),
      PAGERDUTY_ROUTING_KEY: PEER_ROUTING_KEY,
      PAGERDUTY_SERVER: pagerduty.server,
    },
    close: async () => {
      await Promise.all([slack.close(), smtp.close(), pagerduty.close()]);
    },
  };
}
