import { createServer, type Server, type Socket } from 'node:net';
import { listenLocally } from '../peers/http-peer.js';

/**
 * A Sentinel of the test's own on loopback, speaking just enough RESP for ioredis: it names the
 * master the test says, can hold those answers (a sentinel that is slow to answer while a
 * connection looks for the master), and publishes +switch-master when the test says, so the
 * moment an announcement lands is the test's, not the scheduler's. It answers in RESP3, as ioredis
 * asks (HELLO 3): pub/sub arrives as push frames.
 */
export interface FakeSentinel {
  port: number;
  /** Connections subscribed to +switch-master now. */
  readonly subscribers: number;
  /** GET-MASTER-ADDR-BY-NAME questions asked and not answered yet (while held). */
  readonly pendingQuestions: number;
  /** The master to name from now on. */
  nameMaster(port: number): void;
  /** Holds every GET-MASTER-ADDR-BY-NAME answer until release(). */
  hold(): void;
  /** Answers the held questions (with the master named now) and stops holding. */
  release(): void;
  /** Publishes `+switch-master <name> 127.0.0.1 <from> 127.0.0.1 <to>` to the subscribers. */
  announceSwitch(name: string, from: number, to: number): void;
  close(): Promise<void>;
}

const bulk = (value: string) => `$${Buffer.byteLength(value)}\r\n${value}\r\n`;
const array = (values: string[]) => `*${values.length}\r\n${values.map(bulk).join('')}`;

/** Reads the commands (arrays of bulk strings, as ioredis sends them) out of `buffer`; returns them and what is left. */
function parseCommands(buffer: Buffer): { commands: string[][]; rest: Buffer } {
  const commands: string[][] = [];
  let at = 0;
  outer: while (at < buffer.length) {
    const lineEnd = buffer.indexOf('\r\n', at);
    if (lineEnd === -1) break;
    const count = Number(buffer.subarray(at + 1, lineEnd).toString());
    let cursor = lineEnd + 2;
    const parts: string[] = [];
    for (let i = 0; i < count; i++) {
      const headerEnd = buffer.indexOf('\r\n', cursor);
      if (headerEnd === -1) break outer;
      const length = Number(buffer.subarray(cursor + 1, headerEnd).toString());
      if (buffer.length < headerEnd + 2 + length + 2) break outer;
      parts.push(buffer.subarray(headerEnd + 2, headerEnd + 2 + length).toString());
      cursor = headerEnd + 2 + length + 2;
    }
    commands.push(parts);
    at = cursor;
  }
  return { commands, rest: buffer.subarray(at) };
}

export async function startFakeSentinel(masterPort: number): Promise<FakeSentinel> {
  let master = masterPort;
  let holding = false;
  const held: Socket[] = [];
  const subscribed = new Set<Socket>();
  const sockets = new Set<Socket>();
  const answerMaster = (socket: Socket) => socket.writable && socket.write(array(['127.0.0.1', String(master)]));

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      sockets.delete(socket);
      subscribed.delete(socket);
    });
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      const { commands, rest } = parseCommands(Buffer.concat([pending, chunk]));
      pending = rest;
      for (const [name = '', ...args] of commands) {
        const command = [name, ...args.slice(0, 1)].join(' ').toLowerCase();
        if (command === 'sentinel get-master-addr-by-name') {
          if (holding) held.push(socket);
          else answerMaster(socket);
        } else if (command === 'sentinel sentinels') {
          socket.write('*0\r\n');
        } else if (name.toLowerCase() === 'subscribe') {
          subscribed.add(socket);
          args.forEach((channel, i) => socket.write(`>3\r\n${bulk('subscribe')}${bulk(channel)}:${i + 1}\r\n`));
        } else if (name.toLowerCase() === 'info') {
          socket.write(bulk('# Server\r\nredis_mode:sentinel\r\n'));
        } else {
          socket.write('+OK\r\n');
        }
      }
    });
  });
  const port = await listenLocally(server);
  return {
    port,
    get subscribers() {
      return subscribed.size;
    },
    get pendingQuestions() {
      return held.length;
    },
    nameMaster: (next) => {
      master = next;
    },
    hold: () => {
      holding = true;
    },
    release: () => {
      holding = false;
      for (const socket of held.splice(0)) answerMaster(socket);
    },
    announceSwitch: (name, from, to) => {
      const message = `${name} 127.0.0.1 ${from} 127.0.0.1 ${to}`;
      for (const socket of subscribed) socket.write(`>3\r\n${bulk('message')}${bulk('+switch-master')}${bulk(message)}`);
    },
    close: async () => {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
