import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { SMTPServer } from 'smtp-server';
import { startPagerDutyPeer } from '../test/peers/pagerduty-peer.js';
import { startSlackPeer } from '../test/peers/slack-peer.js';

/**
 * The Slack and PagerDuty (TLS) test peers and an SMTP relay in a process of their own, stamping the
 * arrival of every notification with what the bench needs to tell which incident it is about: the
 * dedup_key of a PagerDuty event, the incident id in a Slack message's metadata, the Message-ID and
 * In-Reply-To of a mail. Both sides read the same wall clock at sub-millisecond resolution
 * (timeOrigin + now()), so the bench measures from a webhook's 202 to a channel's receipt.
 */
export type PeersRequest =
  | { type: 'start'; slackToken: string; routingKey: string }
  | { type: 'count' }
  /** The receipts so far, which the peers then forget. */
  | { type: 'take' };

export interface PeerEndpoints {
  slackApiUrl: string;
  smtpUrl: string;
  pagerdutyServer: string;
}

export type Receipt =
  | { channel: 'pagerduty'; at: number; action: string; dedupKey: string; severity: string | null; component: string | null; group: string | null }
  | { channel: 'slack'; at: number; method: string; threadTs: string | null; incidentId: string | null }
  | { channel: 'email'; at: number; messageId: string | null; inReplyTo: string | null };

const receipts: Receipt[] = [];
const now = () => performance.timeOrigin + performance.now();

/** Stamps each item a peer records, as it records it: the peers stay as the tests use them. */
function stampArrivals<T>(received: T[], receiptOf: (item: T, at: number) => Receipt): void {
  received.push = (...items: T[]) => {
    const at = now();
    for (const item of items) receipts.push(receiptOf(item, at));
    return Array.prototype.push.apply(received, items);
  };
}

/** A header of a raw message (unfolded), or null. */
function header(raw: string, name: string): string | null {
  const head = raw.slice(0, Math.max(0, raw.indexOf('\r\n\r\n')) || raw.length);
  const match = new RegExp(`^${name}:[ \\t]*(.*(?:\\r\\n[ \\t].*)*)`, 'im').exec(head);
  return match ? match[1]!.replace(/\r\n[ \t]+/g, ' ').trim() : null;
}

/**
 * A relay as real ones behave: it answers 250 once the message is in, without decoding it beyond
 * the two headers that say which thread a mail belongs to.
 */
async function startRelay(): Promise<string> {
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const at = now();
        const raw = Buffer.concat(chunks).toString('utf8');
        receipts.push({ channel: 'email', at, messageId: header(raw, 'Message-ID'), inReplyTo: header(raw, 'In-Reply-To') });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
}

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

async function start(slackToken: string, routingKey: string): Promise<PeerEndpoints> {
  const [slack, pagerduty, smtpUrl] = await Promise.all([
    startSlackPeer({ token: slackToken }),
    startPagerDutyPeer({ routingKeys: [routingKey] }),
    startRelay(),
  ]);
  stampArrivals(slack.received, (call, at) => {
    const metadata = call.args.metadata as { event_payload?: { incident_id?: unknown } } | undefined;
    return { channel: 'slack', at, method: call.method, threadTs: text(call.args.thread_ts), incidentId: text(metadata?.event_payload?.incident_id) };
  });
  stampArrivals(pagerduty.received, (request, at) => ({
    channel: 'pagerduty',
    at,
    action: String(request.event?.event_action),
    dedupKey: String(request.event?.dedup_key),
    severity: text(request.event?.payload?.severity),
    component: text(request.event?.payload?.component),
    group: text(request.event?.payload?.group),
  }));
  return { slackApiUrl: slack.url, smtpUrl, pagerdutyServer: pagerduty.server };
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
      process.send!({ count: receipts.length });
      return;
    case 'take':
      process.send!({ receipts: receipts.splice(0) });
      return;
  }
});
process.once('disconnect', () => process.exit(0));
