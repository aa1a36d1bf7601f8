import type { ChannelKind } from '../notifiers/types.js';

/** The stored webhooks' stage as metrics name it (alertcenter_queue_depth{queue}): a Redis stream, see ingest.ts. */
export const INGEST_QUEUE = 'ingest';

/** One delivery queue per channel kind, so a slow or rate-limited Slack never delays a page. */
export const deliveryQueueName = (kind: ChannelKind): string => `deliver-${kind}`;

/** One sync queue per channel kind, so a slow or rate-limited Slack never delays a page. */
export const syncQueueName = (kind: ChannelKind): string => `sync-${kind}`;

export const CHANNEL_KINDS: readonly ChannelKind[] = ['pagerduty', 'slack', 'email'];
