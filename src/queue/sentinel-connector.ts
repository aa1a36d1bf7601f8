import type { Socket } from 'node:net';
import { Redis, type SentinelConnectionOptions, SentinelConnector } from 'ioredis';

type ErrorEmitter = Parameters<SentinelConnector['connect']>[0];
type NetStream = Awaited<ReturnType<SentinelConnector['connect']>>;

const SWITCH_MASTER = '+switch-master';

/**
 * ioredis's connector for a master found through Sentinel, with a failover detector that cannot
 * end the connection.
 *
 * ioredis's own (`failoverDetector: true`) answers +switch-master with the connector's
 * disconnect(), the call that also stops a connection for good. When the announcement lands while
 * the connection is asking the sentinels for the master, which is what it does after the old master
 * died, the connect under way gives up and the connection ends ('end'): no reconnection, every
 * later command fails, the webhook answers 503 until the router restarts (issue 17; ioredis 6.0.0).
 *
 * This one listens for the announcement only while a socket to a master is open, and answers it by
 * destroying that socket: the connection reconnects as after any loss and asks the sentinels again.
 * A connect under way is left alone, as it is asking them already. It also ignores the failovers of
 * other masters the same sentinels watch. It is given as the `Connector` option, so the connections
 * bullmq duplicates from ours (a worker's blocking one) have it too.
 */
export class FailoverSafeSentinelConnector extends SentinelConnector {
  /** ioredis hands a `Connector` the connection's options, the Sentinel ones among them. */
  constructor(options: unknown) {
    super(options as SentinelConnectionOptions);
  }

  override async connect(emit: ErrorEmitter): Promise<NetStream> {
    const stream = await super.connect(emit);
    this.watchForFailover(stream);
    return stream;
  }

  /** Until `stream` closes, a +switch-master of our master destroys it. */
  private watchForFailover(stream: NetStream): void {
    const { sentinels = [], name, sentinelUsername, sentinelPassword, sentinelTLS, connectTimeout } = this.options;
    const listeners = sentinels.map(
      (sentinel) =>
        new Redis({
          host: sentinel.host ?? '127.0.0.1',
          port: sentinel.port ?? 26379,
          username: sentinelUsername,
          password: sentinelPassword,
          tls: sentinelTLS,
          connectTimeout,
          enableReadyCheck: false,
          // A sentinel that restarts is listened to again once it is back.
          retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
        }),
    );
    const stop = () => {
      for (const listener of listeners) listener.disconnect();
    };
    for (const listener of listeners) {
      // A sentinel that cannot be reached is one of several; the connection's own errors are reported elsewhere.
      listener.on('error', () => {});
      listener.on('message', (channel: string, message: string) => {
        if (channel === SWITCH_MASTER && message.split(' ')[0] === name) (stream as Socket).destroy();
      });
      listener.subscribe(SWITCH_MASTER).catch(() => {});
    }
    stream.once('close', stop);
  }
}
