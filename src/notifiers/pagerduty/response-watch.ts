import { randomUUID } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Agent } from 'node:https';

/** Published by Node's HTTP client as each response's headers arrive. */
const RESPONSE_CHANNEL = 'http.client.response.finish';
/** Names the send a request belongs to; also a request id PagerDuty's support can be given. */
const SEND_HEADER = 'x-request-id';

/** One send's view of the responses to its own requests. */
export class ResponseWatch {
  private latest: IncomingMessage | undefined;

  constructor(private readonly onResponse: (response: IncomingMessage) => void) {}

  /** The latest response to this send's requests, once its headers arrived. */
  get last(): IncomingMessage | undefined {
    return this.latest;
  }

  see(response: IncomingMessage): void {
    this.latest = response;
    this.onResponse(response);
  }
}

/**
 * Shows each send the responses that pass through `agent` for its own requests, before the library
 * that made the request sees them. pdjs needs this: it retries a 429 on its own (three times, 20 s
 * apart) and loses the status of a reply whose body is not JSON.
 *
 * Sends share the agent (and its keep-alive connections), so a response is told apart by a header
 * its request carries. (An AsyncLocalStorage would do it too, but on Node 20 it turns on async
 * hooks for every promise of the process: several percent of a busy worker's CPU.)
 */
export class AgentResponses {
  private readonly watchOfSend = new Map<string, ResponseWatch>();

  constructor(private readonly agent: Agent) {
    subscribe(RESPONSE_CHANNEL, this.onResponseFinish);
  }

  /** Runs `send` with the headers its requests must carry; their responses go to `watch`. */
  async watch<T>(watch: ResponseWatch, send: (headers: Record<string, string>) => Promise<T>): Promise<T> {
    const id = randomUUID();
    this.watchOfSend.set(id, watch);
    try {
      return await send({ [SEND_HEADER]: id });
    } finally {
      this.watchOfSend.delete(id);
    }
  }

  close(): void {
    unsubscribe(RESPONSE_CHANNEL, this.onResponseFinish);
  }

  private readonly onResponseFinish = (message: unknown): void => {
    const { request, response } = message as { request: ClientRequest & { agent?: unknown }; response: IncomingMessage };
    if (request.agent !== this.agent) return;
    // node-fetch sets every header as an array of values.
    const value = request.getHeader(SEND_HEADER);
    const id = Array.isArray(value) ? value[0] : value;
    if (typeof id === 'string') this.watchOfSend.get(id)?.see(response);
  };
}
