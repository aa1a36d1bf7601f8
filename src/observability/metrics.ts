import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Every metric of one router instance, on its own registry (tests run several instances in one process). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  return {
    registry,
    // The same SLI that Maestro's latency SLO reads: keep the 0.2 s bucket.
    httpRequestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route and status code.',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5],
      registers,
    }),
    alertsReceived: new Counter({
      name: 'alertcenter_alerts_received_total',
      help: 'Alerts accepted from webhooks, by alert status and normalized severity.',
      labelNames: ['status', 'severity'] as const,
      registers,
    }),
    webhookRejections: new Counter({
      name: 'alertcenter_webhook_rejections_total',
      help: 'Webhook requests refused, by reason.',
      labelNames: ['reason'] as const,
      registers,
    }),
    severityDefaulted: new Counter({
      name: 'alertcenter_alerts_severity_defaulted_total',
      help: 'Alerts whose severity label was missing or unknown and took the default severity.',
      registers,
    }),
    queueDepth: new Gauge({
      name: 'alertcenter_queue_depth',
      help: 'Jobs in each queue, by state.',
      labelNames: ['queue', 'state'] as const,
      registers,
    }),
    redisFiguresFresh: new Gauge({
      name: 'alertcenter_redis_figures_fresh',
      help: 'Whether this scrape read the queue depths and incident counts from Redis (1); 0 when Redis did not answer in time and they are omitted.',
      registers,
    }),
    replicaAckShortfalls: new Counter({
      name: 'alertcenter_replica_ack_shortfalls_total',
      help: 'Writes that fewer replicas than REDIS_MIN_REPLICAS_ACK confirmed in time: webhooks answered 503, worker writes that went on without.',
      labelNames: ['path'] as const,
      registers,
    }),
    deadLetters: new Counter({
      name: 'alertcenter_dead_letters_total',
      help: 'Jobs given up on (dead-lettered: listed and re-driven by the dead-letter API), by queue.',
      labelNames: ['queue'] as const,
      registers,
    }),
    notificationsRouted: new Counter({
      name: 'alertcenter_notifications_routed_total',
      help: 'Notifications routed, by route and receiver.',
      labelNames: ['route', 'receiver'] as const,
      registers,
    }),
    notificationsUnrouted: new Counter({
      name: 'alertcenter_alerts_unmatched_total',
      help: 'Alerts that matched no route and went to the default receivers.',
      registers,
    }),
    notificationsMuted: new Counter({
      name: 'alertcenter_notifications_muted_total',
      help: 'Notifications held back by a mute or outside an active time interval, by route.',
      labelNames: ['route'] as const,
      registers,
    }),
    alertCopies: new Counter({
      name: 'alertcenter_alert_copies_total',
      help: 'Alert copies applied to incidents: changed one, or changed nothing (a repeat, an HA or replica copy, an older copy).',
      labelNames: ['outcome'] as const,
      registers,
    }),
    syncDecisions: new Counter({
      name: 'alertcenter_sync_decisions_total',
      help: 'What syncs decided to tell a receiver (first_notification, escalated, ..., up_to_date), by channel.',
      labelNames: ['channel', 'decision'] as const,
      registers,
    }),
    incidents: new Gauge({
      name: 'alertcenter_incidents',
      help: 'Incidents kept in Redis, by state (open includes resolving).',
      labelNames: ['state'] as const,
      registers,
    }),
    notificationsSent: new Counter({
      name: 'alertcenter_notifications_sent_total',
      help: 'Notifications delivered, by receiver and channel.',
      labelNames: ['receiver', 'channel'] as const,
      registers,
    }),
    notificationsFailed: new Counter({
      name: 'alertcenter_notifications_failed_total',
      help: 'Delivery attempts that failed, by receiver and reason.',
      labelNames: ['receiver', 'reason'] as const,
      registers,
    }),
    deliveryLatency: new Histogram({
      name: 'alertcenter_delivery_latency_seconds',
      help: "Time from the incident's change to the channel's acknowledgement.",
      labelNames: ['receiver', 'channel'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    configReloadSuccessful: new Gauge({
      name: 'alertcenter_config_last_reload_successful',
      help: 'Whether the last routing configuration reload succeeded (1) or not (0).',
      registers,
    }),
    configReloadSuccessTimestamp: new Gauge({
      name: 'alertcenter_config_last_reload_success_timestamp_seconds',
      help: 'Time of the last successful routing configuration reload.',
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
