import type { ChannelKind } from '../notifiers/types.js';

export const INGEST_QUEUE = 'ingest';

/** One delivery queue per channel kind, so a slow or rate-limited Slack never delays a page. */
export const deliveryQueueName = (kind: ChannelKind): string => `deliver-${kind}`;

export const CHANNEL_KINDS: readonly ChannelKind[] = ['pagerduty', 'slack', 'email'];
