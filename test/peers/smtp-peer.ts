import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { BehaviorSchedule } from './behavior.js';
import { TEST_TLS } from './tls.js';

/** A real SMTP server (smtp-server) on 127.0.0.1; what arrives is read back with mailparser. */
export type SmtpPeerBehavior =
  | { kind: 'ok' }
  /** Refuse RCPT TO with this reply, e.g. 550 mailbox unavailable or 451 try later. */
  | { kind: 'reply'; code: number; message: string }
  /** Never answer MAIL FROM. */
  | { kind: 'hang' };

export interface ReceivedMail {
  envelope: { from: string; to: string[] };
  /** Whether the session ran over TLS (implicit or STARTTLS). */
  secure: boolean;
  user: string | undefined;
  raw: string;
  parsed: ParsedMail;
}

export interface SmtpPeer {
  port: number;
  /** smtp:// (or smtps:// for implicit TLS) URL with these credentials. */
  url(credentials?: { user: string; pass: string }): string;
  received: ReceivedMail[];
  /** Applies per message, decided at MAIL FROM. */
  setBehavior(behavior: SmtpPeerBehavior, times?: number): void;
  close(): Promise<void>;
}

export interface SmtpPeerOptions {
  /** Accepted logins; when absent, no AUTH is needed. */
  users?: Record<string, string>;
  /** `starttls` offers STARTTLS, `implicit` speaks TLS from the start (smtps), `none` is plain. Test certificate. */
  tls?: 'starttls' | 'implicit' | 'none';
}

export async function startSmtpPeer(options: SmtpPeerOptions = {}): Promise<SmtpPeer> {
  const tls = options.tls ?? 'none';
  const received: ReceivedMail[] = [];
  const behaviors = new BehaviorSchedule<SmtpPeerBehavior>();
  const sessionBehavior = new WeakMap<SMTPServerSession, SmtpPeerBehavior>();

  const server = new SMTPServer({
    ...(tls === 'none' ? { disabledCommands: ['STARTTLS'], allowInsecureAuth: true } : TEST_TLS),
    secure: tls === 'implicit',
    authOptional: options.users === undefined,
    logger: false,
    // Hung sessions are cut on close instead of holding it for the default 30 s.
    closeTimeout: 100,
    onAuth(auth, _session, callback) {
      const known = options.users?.[auth.username ?? ''];
      if (known === undefined || known !== auth.password) return callback(new Error('Invalid username or password'));
      callback(null, { user: auth.username });
    },
    onMailFrom(_address, session, callback) {
      const behavior = behaviors.next();
      sessionBehavior.set(session, behavior);
      if (behavior.kind !== 'hang') callback();
    },
    onRcptTo(_address, session, callback) {
      const behavior = sessionBehavior.get(session);
      if (behavior?.kind !== 'reply') return callback();
      callback(Object.assign(new Error(behavior.message), { responseCode: behavior.code }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        simpleParser(raw).then(
          (parsed) => {
            received.push({
              envelope: {
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
                to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
              },
              secure: session.secure,
              user: typeof session.user === 'string' ? session.user : undefined,
              raw,
              parsed,
            });
            callback();
          },
          (error: Error) => callback(error),
        );
      });
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  // A client that drops mid-session (a router killed on purpose) is part of the tests, not a crash.
  server.on('error', () => {});
  const port = (server.server.address() as AddressInfo).port;
  const scheme = tls === 'implicit' ? 'smtps' : 'smtp';

  return {
    port,
    url: (credentials) =>
      credentials === undefined
        ? `${scheme}://127.0.0.1:${port}`
        : `${scheme}://${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.pass)}@127.0.0.1:${port}`,
    received,
    setBehavior: (behavior, times) => behaviors.set(behavior, times),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
