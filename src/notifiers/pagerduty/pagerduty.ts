import type { IncomingMessage } from 'node:http';
import { Agent } from 'node:https';
import { event } from '@pagerduty/pdjs';
import { Failures } from '../failures.js';
import { DeliveryError, type IncidentNotifier, type SyncContext, type SyncResult } from '../types.js';
import { composePagerDutyEvent, type EventParameters, PAGERDUTY_INTERESTS } from './event.js';
import { AgentResponses, ResponseWatch } from './response-watch.js';

export interface PagerDutyNotifierOptions {
  receiver: string;
  routingKey: string;
  /** PAGERDUTY_SERVER host, e.g. events.pagerduty.com; pdjs always speaks https to it. */
  server: string;
  timeoutMs: number;
  /** Extra CA certificates (PEM) to trust, e.g. a TLS-inspecting proxy's. */
  ca?: string | Buffer;
}

/** What the Events API v2 answers: `{status, message, dedup_key}`, or `{status, message, errors}`. */
interface EventsApiReply {
  status?: string;
  message?: string;
  dedup_key?: string;
  errors?: string[];
}

/**
 * Triggers, escalates and resolves one PagerDuty alert per incident through the Events API v2, one
 * dedup_key per incident (see composePagerDutyEvent).
 * pdjs resolves on HTTP errors, retries 429s itself and leaves a 30 s timer behind: here the
 * status is checked, the first 429 ends the request (see AgentResponses), its timer is off
 * (requestTimeout 0) and the deadline is our own signal.
 */
export class PagerDutyNotifier implements IncidentNotifier {
  readonly kind = 'pagerduty';
  readonly dryRun = false;
  readonly interests = PAGERDUTY_INTERESTS;
  readonly minUpdateIntervalMs = 0;
  private readonly failures: Failures;
  /**
   * Shared by all sends, so a send reuses a TLS connection instead of a handshake of its own. No
   * maxSockets: pdjs's node-fetch 2 fails a chunked response as "Premature close" when the agent
   * hands its socket straight to a queued request.
   */
  private readonly agent: Agent;
  private readonly responses: AgentResponses;

  constructor(private readonly options: PagerDutyNotifierOptions) {
    this.failures = new Failures('pagerduty', options.receiver, [options.routingKey]);
    // Idle connections close after 5 s, as Node's global agent's do: one the server or a proxy closed
    // meanwhile would otherwise fail the send that reuses it. (The agent only times out idle sockets.)
    this.agent = new Agent({ keepAlive: true, timeout: 5_000, ...(options.ca === undefined ? {} : { ca: options.ca }) });
    this.responses = new AgentResponses(this.agent);
  }

  async notify(context: SyncContext, signal: AbortSignal): Promise<SyncResult> {
    const data = { routing_key: this.options.routingKey, ...composePagerDutyEvent(context) } as EventParameters['data'];
    const rateLimited = new AbortController();
    const watch = new ResponseWatch((response) => {
      if (response.statusCode === 429) rateLimited.abort();
    });
    const request = (headers: Record<string, string>): EventParameters & { agent: Agent } => ({
      data,
      server: this.options.server,
      agent: this.agent,
      headers,
      requestTimeout: 0,
      signal: AbortSignal.any([signal, AbortSignal.timeout(this.options.timeoutMs), rateLimited.signal]),
    });
    try {
      const reply = await this.responses.watch(watch, (headers) => event(request(headers)));
      if (reply.status < 200 || reply.status >= 300) {
        throw this.fromReply(reply.status, reply.data as EventsApiReply, reply.headers.get('retry-after'));
      }
      return { action: ACTIONS[data.event_action], receipt: { pagerduty: { dedupKey: data.dedup_key! } } };
    } catch (error) {
      throw this.classify(error, signal, watch.last);
    }
  }

  async close(): Promise<void> {
    this.responses.close();
    this.agent.destroy();
  }

  /** `last` is the response whose headers arrived, if any: its status says more than the error pdjs saw. */
  private classify(error: unknown, signal: AbortSignal, last: IncomingMessage | undefined): DeliveryError {
    if (error instanceof DeliveryError) return error;
    if (last?.statusCode !== undefined && (last.statusCode < 200 || last.statusCode >= 300)) {
      return this.fromReply(last.statusCode, {}, headerValue(last, 'retry-after'));
    }
    if (error instanceof Error && error.name === 'AbortError') return this.failures.aborted(signal, this.options.timeoutMs);
    if (error instanceof Error && (error as { type?: string }).type === 'system') return this.failures.network(error);
    return this.failures.unknown(error);
  }

  private fromReply(status: number, reply: EventsApiReply, retryAfter: string | null): DeliveryError {
    const errors = reply.errors ?? [];
    const detail = [reply.status, reply.message, ...errors].filter(Boolean).join('; ');
    if (status === 400 && errors.some((text) => /routing.?key/i.test(text))) {
      return this.failures.error('auth', `HTTP 400 ${detail}`, false);
    }
    return this.failures.fromStatus(status, detail, retryAfter);
  }
}

/** What the timeline says a sent event did. */
const ACTIONS: Record<EventParameters['data']['event_action'], string> = { trigger: 'triggered', acknowledge: 'acknowledged', resolve: 'resolved' };

function headerValue(response: IncomingMessage, name: string): string | null {
  const value = response.headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? null;
}
