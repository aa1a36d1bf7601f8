import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { BehaviorSchedule } from './behavior.js';
import { closeServer, listenLocally, type PeerBehavior, readBody, retryAfterHeader } from './http-peer.js';
import { TEST_TLS } from './tls.js';

/**
 * A local stand-in for PagerDuty's Events API v2 (`POST https://<server>/v2/enqueue`), over TLS
 * with the test-only certificate: 202 `{status:'success', message:'Event processed', dedup_key}`,
 * 400 `{status:'invalid event', message:'Event object is invalid', errors}`, 429 when throttled.
 */
export interface PagerDutyRequest {
  /** The parsed body, or the raw text when it was not JSON. */
  event: any;
  /** TLS protocol of the connection, e.g. TLSv1.3. */
  tlsProtocol: string | null;
  userAgent: string | undefined;
}

export interface PagerDutyIncident {
  status: 'triggered' | 'resolved';
  summary: string;
  /** Events that reached it: the trigger, its duplicates, the resolve. */
  events: number;
}

export interface PagerDutyPeer {
  /** For pdjs's `server`: 127.0.0.1:<port> */
  server: string;
  port: number;
  received: PagerDutyRequest[];
  /** TLS connections (completed handshakes) so far: a client that keeps its connections alive makes few. */
  readonly tlsConnections: number;
  /** By dedup_key. */
  incidents: Map<string, PagerDutyIncident>;
  setBehavior(behavior: PeerBehavior, times?: number): void;
  close(): Promise<void>;
}

export interface PagerDutyPeerOptions {
  /** Integration keys this peer knows; any other gets 400 "Invalid routing key". */
  routingKeys: string[];
}

const SEVERITIES = new Set(['critical', 'error', 'warning', 'info']);
const ACTIONS = new Set(['trigger', 'acknowledge', 'resolve']);

export async function startPagerDutyPeer(options: PagerDutyPeerOptions): Promise<PagerDutyPeer> {
  const received: PagerDutyRequest[] = [];
  const incidents = new Map<string, PagerDutyIncident>();
  const behaviors = new BehaviorSchedule<PeerBehavior>();
  let generatedKeys = 0;
  let tlsConnections = 0;

  const server = createServer(TEST_TLS, (req, res) => {
    void handle(req, res);
  });
  server.on('secureConnection', () => {
    tlsConnections += 1;
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    let event: any;
    try {
      event = JSON.parse(body);
    } catch {
      event = body;
    }
    received.push({
      event,
      tlsProtocol: (req.socket as TLSSocket).getProtocol?.() ?? null,
      userAgent: req.headers['user-agent'],
    });
    if (req.method !== 'POST' || req.url !== '/v2/enqueue') return reply(res, 404, { status: 'not found' });
    const behavior = behaviors.next();
    switch (behavior.kind) {
      case 'hang':
        return;
      case 'rate_limited':
        return reply(
          res,
          429,
          { status: 'throttle event', message: 'Requests for this service are arriving too quickly.  Please retry later.' },
          retryAfterHeader(behavior.retryAfterSeconds),
        );
      case 'http_error':
        res.writeHead(behavior.status, { 'Content-Type': 'text/html' });
        res.end('<html><body>Bad gateway</body></html>');
        return;
      case 'held':
        await behavior.until;
        return answer(res, event);
      case 'ok':
        return answer(res, event);
    }
  }

  function answer(res: ServerResponse, event: any): void {
    const errors = invalidities(event);
    if (errors.length > 0) return reply(res, 400, { status: 'invalid event', message: 'Event object is invalid', errors });
    reply(res, 202, { status: 'success', message: 'Event processed', dedup_key: apply(event) });
  }

  function invalidities(event: any): string[] {
    if (typeof event !== 'object' || event === null) return ['Event object is not JSON'];
    const errors: string[] = [];
    if (!options.routingKeys.includes(event.routing_key)) errors.push('Invalid routing key');
    if (!ACTIONS.has(event.event_action)) errors.push("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)");
    if (event.dedup_key !== undefined && String(event.dedup_key).length > 255) errors.push("'dedup_key' is too long (max 255)");
    if (event.event_action === 'resolve' && event.dedup_key === undefined) errors.push("'dedup_key' is missing");
    if (event.event_action === 'trigger') {
      const payload = event.payload ?? {};
      if (typeof payload.summary !== 'string' || payload.summary === '') errors.push("'payload.summary' is missing");
      else if (payload.summary.length > 1024) errors.push("'payload.summary' is too long (max 1024)");
      if (typeof payload.source !== 'string' || payload.source === '') errors.push("'payload.source' is missing");
      if (!SEVERITIES.has(payload.severity)) errors.push("'payload.severity' is invalid");
    }
    return errors;
  }

  /** Opens, deduplicates or resolves an incident; returns the dedup_key. */
  function apply(event: any): string {
    const key: string = event.dedup_key ?? `generated-${++generatedKeys}`;
    const open = incidents.get(key);
    if (event.event_action === 'trigger') {
      if (open?.status === 'triggered') open.events += 1;
      else incidents.set(key, { status: 'triggered', summary: event.payload.summary, events: 1 });
    } else if (event.event_action === 'resolve' && open?.status === 'triggered') {
      open.status = 'resolved';
      open.events += 1;
    }
    return key;
  }

  const port = await listenLocally(server);
  return {
    server: `127.0.0.1:${port}`,
    port,
    received,
    get tlsConnections() {
      return tlsConnections;
    },
    incidents,
    setBehavior: (behavior, times) => behaviors.set(behavior, times),
    close: () => closeServer(server),
  };
}

function reply(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
