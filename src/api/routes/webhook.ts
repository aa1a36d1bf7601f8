import { parseWebhookPayload } from '../../alerts/schema.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { IngestProducer } from '../../queue/ingest.js';
import { ReplicaAckError } from '../../queue/replica-ack.js';
import type { DirectRoute } from '../app.js';
import { tokenCheck, unauthorized } from '../auth.js';
import { readJsonBody } from '../body.js';
import { ApiError, replyJson } from '../errors.js';

export const WEBHOOK_PATH = '/api/v1/webhooks/alertmanager';

interface WebhookDeps {
  tokens: readonly string[];
  maxBodyBytes: number;
  ingest: IngestProducer;
  metrics: Metrics;
  logger: Logger;
  /** Told of every webhook accepted (ROLE=all: processing yields to a burst, src/queue/ingest-pace.ts). */
  onAccepted?: () => void;
}

/**
 * POST /api/v1/webhooks/alertmanager: Alertmanager's webhook (version 4; Grafana's superset too).
 * 202 only once the payload is in Redis. A 4xx is final for Alertmanager, so an outage of our own
 * must be a 503, which it retries. Served without express (see DirectRoute): it is the hot path.
 */
export function webhookRoute({ tokens, maxBodyBytes, ingest, metrics, logger, onAccepted }: WebhookDeps): DirectRoute {
  const refuse = (reason: string) => metrics.webhookRejections.inc({ reason });
  const authorized = tokenCheck(tokens);
  const handle: DirectRoute['handle'] = async (req, res) => {
    if (!authorized(req.headers.authorization)) {
      refuse('unauthorized');
      throw unauthorized('webhook');
    }
    const acceptedAt = Date.now();
    let body: { text: string; value: unknown };
    try {
      body = await readJsonBody(req, maxBodyBytes, res);
    } catch (error) {
      if (error instanceof ApiError) refuse(error.code);
      throw error;
    }
    const parsed = parseWebhookPayload(body.value);
    if (!parsed.ok) {
      refuse('invalid_payload');
      throw new ApiError(400, 'invalid_payload', parsed.message);
    }
    try {
      // Stored as received: the workers parse it again (a fraction of their work), the webhook saves serializing it.
      await ingest.enqueue(body.text, acceptedAt);
    } catch (error) {
      if (error instanceof ReplicaAckError) {
        // Stored on the master, but a failover now could lose it: Alertmanager sends it again (a copy is harmless).
        refuse('unreplicated');
        metrics.replicaAckShortfalls.inc({ path: 'webhook' });
        logger.warn({ err: error.message }, 'webhook not confirmed by enough replicas; answering 503 so Alertmanager retries');
        throw new ApiError(503, 'unavailable', `the router cannot make alerts durable right now: ${error.message}; retry later`);
      }
      refuse('unavailable');
      logger.error({ err: error }, 'cannot store webhook in Redis; answering 503 so Alertmanager retries');
      throw new ApiError(503, 'unavailable', 'the router cannot store alerts right now (Redis unreachable or refusing writes); retry later');
    }
    onAccepted?.();
    replyJson(res, 202, { accepted: parsed.payload.alerts.length });
  };
  return { method: 'POST', path: WEBHOOK_PATH, handle };
}
