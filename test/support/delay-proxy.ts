import { connect, createServer, type Socket } from 'node:net';
import { listenLocally } from '../peers/http-peer.js';

export interface DelayProxy {
  port: number;
  close(): Promise<void>;
}

/**
 * A TCP proxy on loopback that holds every chunk the upstream sends back for `delayMs`: a slow
 * peer whatever its protocol (HTTP, TLS, SMTP). The request reaches the peer at once and only the
 * answer is late, so a delivery stays in flight after the peer has acted on it.
 */
export async function startDelayProxy(upstreamPort: number, delayMs: number): Promise<DelayProxy> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server = createServer((client) => {
    const upstream = connect(upstreamPort, '127.0.0.1');
    track(client);
    track(upstream);
    client.pipe(upstream);
    // Timers of equal delay fire in the order they were set, so the stream keeps its order.
    upstream.on('data', (chunk) => setTimeout(() => client.writable && client.write(chunk), delayMs));
    upstream.on('end', () => setTimeout(() => client.end(), delayMs));
    upstream.on('close', () => setTimeout(() => client.destroy(), delayMs));
    // A client that dies (a killed router) is hung up on politely: the peer sees a close, not a reset.
    client.on('close', () => upstream.end());
  });
  const port = await listenLocally(server);
  return {
    port,
    close: async () => {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
