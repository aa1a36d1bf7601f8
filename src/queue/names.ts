import type { ChannelKind } from '../domain/channels.js';

/** The stored webhooks' bullmq queue (and alertcenter_queue_depth{queue}, alertcenter_dead_letters_total{queue}). */
export const INGEST_QUEUE = 'ingest';

/** On-call's clicks in Slack, done from the queue so that Slack hears back within its 3 s. */
export const ACTIONS_QUEUE = 'actions';

/** One sync queue per channel kind, so a slow or rate-limited Slack never delays a page. */
export const syncQueueName = (kind: ChannelKind): string => `sync-${kind}`;

/** The job states that alertcenter_queue_depth{state} reports for every queue. */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized'] as const;
