/** One server-sent event: its `event:` name and its `data:` line. */
export interface ServerSentEvent {
  event: string;
  data: string;
}

/** The events of a server-sent event stream (a fetch response's body), as they arrive; ends with the stream. */
export async function* serverSentEvents(body: ReadableStream<Uint8Array> | null): AsyncGenerator<ServerSentEvent> {
  if (body === null) return;
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      if (event) yield { event, data: /^data: (.*)$/m.exec(block)?.[1] ?? '' };
    }
  }
}
