/**
 * The domain words every stage shares: the channel kinds and a receiver's configuration. Neutral
 * ground, so that routing, notifiers and queues need not import each other for them.
 */
export type ChannelKind = 'slack' | 'email' | 'pagerduty';

/** One queue and one worker per kind, so a slow or rate-limited Slack never delays a page. */
export const CHANNEL_KINDS: readonly ChannelKind[] = ['pagerduty', 'slack', 'email'];

/** A receiver of the routing file: its name and its one channel. */
export type ReceiverConfig =
  | { name: string; kind: 'slack'; slack: { channel: string } }
  | { name: string; kind: 'email'; email: { to: string[]; from?: string } }
  | { name: string; kind: 'pagerduty'; pagerduty: { routingKey?: string } };
