import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import type { Agent } from 'node:https';

/** Published by Node's HTTP client as each response's headers arrive. */
const RESPONSE_CHANNEL = 'http.client.response.finish';

export interface ResponseWatch {
  /** The latest response through the agent, once its headers arrived. */
  readonly last: IncomingMessage | undefined;
  stop(): void;
}

/**
 * Shows every response that passes through `agent`, before the library that made the request
 * sees it. pdjs needs this: it retries a 429 on its own (three times, 20 s apart) and loses the
 * status of a reply whose body is not JSON. Give each send its own agent to tell them apart.
 */
export function watchResponses(agent: Agent, onResponse: (response: IncomingMessage) => void): ResponseWatch {
  let last: IncomingMessage | undefined;
  const listener = (message: unknown) => {
    const { request, response } = message as { request: { agent?: unknown }; response: IncomingMessage };
    if (request.agent !== agent) return;
    last = response;
    onResponse(response);
  };
  subscribe(RESPONSE_CHANNEL, listener);
  return {
    get last() {
      return last;
    },
    stop: () => unsubscribe(RESPONSE_CHANNEL, listener),
  };
}
