/**
 * The key layout. Every Lua script and MULTI of the router touches the keys of one group only, and
 * each group lives under its own hash tag, so a group's keys share a slot on Redis Cluster while
 * different groups spread over the masters:
 * - each bullmq queue under `{<prefix>:<queue>}` (bullmq's own keys follow: `{alertcenter:ingest}:ingest:wait`);
 * - every incident key under `{<prefix>:incidents}` (`{alertcenter:incidents}:incident:<id>`, its
 *   timeline, notification log, and the indexes the incident scripts update with it);
 * - every alert-state key under `{<prefix>:alerts}`.
 * The layout is the same on one node, Sentinel and Cluster: a router can move between them.
 */
export const queuePrefix = (prefix: string, queue: string): string => `{${prefix}:${queue}}`;

export const incidentsTag = (prefix: string): string => `{${prefix}:incidents}`;

export const alertsTag = (prefix: string): string => `{${prefix}:alerts}`;

/** The patterns that match every key of a prefix (for tests and operators: `redis-cli --scan --pattern`). */
export const keyPatterns = (prefix: string): string[] => [`{${prefix}:*`];
