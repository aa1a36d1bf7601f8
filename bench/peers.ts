import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { startPagerDutyPeer } from '../test/peers/pagerduty-peer.js';
import { startSlackPeer } from '../test/peers/slack-peer.js';
import type { ChannelKind } from '../src/notifiers/types.js';

/**
 * The Slack and PagerDuty (TLS) test peers and an SMTP relay in a process of their own, stamping the arrival of
 * every notification so the bench can measure from the webhook's 202 to the channel's receipt.
 * Both sides read the same wall clock at sub-millisecond resolution (timeOrigin + now()).
 */
export type PeersRequest =
  | { type: 'start'; slackToken: string; routingKey: string }
  | { type: 'count' }
  /** The receipts so far, which the peers then forget (a warm-up's are not the measurement's). */
  | { type: 'take' };

export interface PeerEndpoints {
  slackApiUrl: string;
  smtpUrl: string;
  pagerdutyServer: string;
}

export interface Receipt {
  channel: ChannelKind;
  /** The alert's `instance` label; null when the request carried no firing notification. */
  instance: string | null;
  /** Epoch ms, fractional. */
  at: number;
}

const receipts: Receipt[] = [];
const INSTANCE_LABEL = /instance=([a-z0-9]+-\d+)/;
const now = () => performance.timeOrigin + performance.now();

/** Stamps each item a peer records, as it records it: the peers stay as the tests use them. */
function stampArrivals<T>(received: T[], channel: ChannelKind, instanceIn: (item: T) => string | null): void {
  received.push = (...items: T[]) => {
    const at = now();
    for (const item of items) receipts.push({ channel, instance: instanceIn(item), at });
    return Array.prototype.push.apply(received, items);
  };
}

/**
 * A relay as real ones behave: it answers 250 once the message is in, without decoding it. The
 * test peer's MIME parse before answering would spend the machine's CPU the router is measured on;
 * the bench decodes the stored mails after the run, when it matches receipts.
 */
async function startRelay(): Promise<{ url: string; arrivals: () => number; take: () => Promise<Receipt[]> }> {
  const arrivals: Array<{ raw: string; at: number }> = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        arrivals.push({ raw: Buffer.concat(chunks).toString('utf8'), at: now() });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    arrivals: () => arrivals.length,
    take: async () =>
      Promise.all(
        arrivals.splice(0).map(async ({ raw, at }) => ({
          channel: 'email' as const,
          instance: INSTANCE_LABEL.exec((await simpleParser(raw)).text ?? '')?.[1] ?? null,
          at,
        })),
      ),
  };
}

let relay: Awaited<ReturnType<typeof startRelay>>;

async function start(slackToken: string, routingKey: string): Promise<PeerEndpoints> {
  const [slack, pagerduty] = await Promise.all([startSlackPeer({ token: slackToken }), startPagerDutyPeer({ routingKeys: [routingKey] })]);
  relay = await startRelay();
  stampArrivals(slack.received, 'slack', (call) =>
    call.method === 'chat.postMessage' ? (INSTANCE_LABEL.exec(JSON.stringify(call.args))?.[1] ?? null) : null,
  );
  stampArrivals(pagerduty.received, 'pagerduty', (request) =>
    request.event?.event_action === 'trigger' ? (request.event.payload?.custom_details?.Labels?.instance ?? null) : null,
  );
  return { slackApiUrl: slack.url, smtpUrl: relay.url, pagerdutyServer: pagerduty.server };
}

process.on('message', (request: PeersRequest) => {
  switch (request.type) {
    case 'start':
      start(request.slackToken, request.routingKey).then(
        (endpoints) => process.send!(endpoints),
        (error: Error) => process.send!({ error: error.message }),
      );
      return;
    case 'count':
      process.send!({ count: receipts.length + relay.arrivals() });
      return;
    case 'take':
      relay.take().then(
        (mails) => process.send!({ receipts: [...receipts.splice(0), ...mails] }),
        (error: Error) => process.send!({ error: error.message }),
      );
      return;
  }
});
process.once('disconnect', () => process.exit(0));
