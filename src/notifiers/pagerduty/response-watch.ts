import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Agent } from 'node:https';

/** Published by Node's HTTP client once a request has its socket and is sent. */
const REQUEST_CHANNEL = 'http.client.request.start';
/** Published by Node's HTTP client as each response's headers arrive. */
const RESPONSE_CHANNEL = 'http.client.response.finish';

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
 * Sends share the agent (and its keep-alive connections), so a response is told apart by its
 * request. Node publishes the request's start in the async context of the http.request() call (a
 * tick later, or when the agent gives a queued request a socket, through the agent's QueuedRequest
 * async resource), so the send running there is the one `watch()` stored; the WeakMap carries it
 * to the response, which arrives in the socket's context.
 */
export class AgentResponses {
  private readonly sendInProgress = new AsyncLocalStorage<ResponseWatch>();
  private readonly watchOfRequest = new WeakMap<ClientRequest, ResponseWatch>();

  constructor(private readonly agent: Agent) {
    subscribe(REQUEST_CHANNEL, this.onRequestStart);
    subscribe(RESPONSE_CHANNEL, this.onResponseFinish);
  }

  /** Runs `send`; the responses to the requests it makes through the agent go to `watch`. */
  watch<T>(watch: ResponseWatch, send: () => T): T {
    return this.sendInProgress.run(watch, send);
  }

  close(): void {
    unsubscribe(REQUEST_CHANNEL, this.onRequestStart);
    unsubscribe(RESPONSE_CHANNEL, this.onResponseFinish);
  }

  private readonly onRequestStart = (message: unknown): void => {
    const { request } = message as { request: ClientRequest & { agent?: unknown } };
    const watch = this.sendInProgress.getStore();
    if (watch !== undefined && request.agent === this.agent) this.watchOfRequest.set(request, watch);
  };

  private readonly onResponseFinish = (message: unknown): void => {
    const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
    this.watchOfRequest.get(request)?.see(response);
  };
}
