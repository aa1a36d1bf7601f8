import { createHash } from 'node:crypto';
import { ALERTS_PER_WEBHOOK, type AlertGroup, type BenchSeverity, groupName } from './payloads.js';
import type { Receipt } from './peers.js';
import { percentile, round } from './stats.js';

/**
 * The alert storm of issue 13: `alerts` alerts within `seconds`, ALERTS_PER_WEBHOOK to a webhook,
 * each with an `instance` no other has, over `groups` incident keys (3 SLOs x services). Each group
 * fires its warning tier first and escalates to critical part-way through: groups escalate one
 * after the other, from a fifth to four fifths of the storm, so that the pages are measured while
 * the storm goes on, not all at one instant. The shipped routing owes each group exactly one
 * incident, one page, one Slack message and one mail thread.
 */
export interface StormPlan {
  seconds: number;
  groups: AlertGroup[];
  webhooks: PlannedWebhook[];
}

export interface PlannedWebhook {
  n: number;
  /** Milliseconds after the storm's start. */
  atMs: number;
  group: number;
  severity: BenchSeverity;
}

export function planStorm(groups: readonly AlertGroup[], alerts: number, seconds: number): StormPlan {
  const count = Math.ceil(alerts / ALERTS_PER_WEBHOOK);
  const perGroup = (g: number) => Math.floor(count / groups.length) + (g < count % groups.length ? 1 : 0);
  // The group's webhook from which it sends criticals: at least one warning first, at least one critical.
  const escalatesAt = groups.map((_, g) => {
    const share = groups.length === 1 ? 0.5 : 0.2 + (0.6 * g) / (groups.length - 1);
    return Math.min(Math.max(1, Math.round(perGroup(g) * share)), perGroup(g) - 1);
  });
  if (escalatesAt.some((at) => at < 1)) throw new Error(`storm of ${alerts} alerts over ${groups.length} groups: fewer than two webhooks per group`);
  const webhooks = Array.from({ length: count }, (_, n) => {
    const group = n % groups.length;
    const k = Math.floor(n / groups.length);
    return { n, atMs: (n * seconds * 1000) / count, group, severity: (k < escalatesAt[group]! ? 'warning' : 'critical') as BenchSeverity };
  });
  return { seconds, groups: [...groups], webhooks };
}

/** What the sender saw of one webhook. */
export interface SentWebhook {
  n: number;
  status: number;
  /** From writing the request to the end of the answer. */
  latencyMs: number;
  /** Epoch ms at which the answer arrived. */
  answeredAt: number;
}

/** An incident as the router's API lists it. */
export interface ListedIncident {
  id: string;
  slo: string | null;
  service: string | null;
  severity: string;
  state: string;
}

export interface Spread {
  min: number;
  max: number;
  total: number;
}

export interface StormAccount {
  /** Incident keys the storm used, and incidents the router opened for them. */
  groups: number;
  incidents: Spread;
  /** PagerDuty incidents (distinct dedup_keys triggered) per group; `triggers`: every trigger event. */
  pages: Spread;
  triggers: Spread;
  /** Top-level Slack posts per group; updates and thread replies are counted apart. */
  slackPosts: Spread;
  slackUpdates: number;
  slackReplies: number;
  /** Mail threads (first mails) per group, and all mails (replies included). */
  mailThreads: Spread;
  mails: number;
  /** Groups with exactly one incident, one page, one Slack message and one mail thread. */
  exactGroups: number;
  /** Receipts that name no incident the storm opened. */
  unmatched: number;
  /** From the 202 of a group's first critical webhook to its first PagerDuty trigger, over the groups paged. */
  firstPageMs: { p50: number; p99: number; max: number; paged: number };
  /** Deviations, for the log: group -> counts. */
  deviations: Record<string, { incidents: number; pages: number; slackPosts: number; mailThreads: number }>;
}

const PAGERDUTY_KEY_PREFIX = 'alertcenter/incident/';

/**
 * The thread of a mail, as the email notifier derives its Message-IDs from (incident, receiver):
 * `<alertcenter.<sha256 of [id, receiver], 32 hex>.<n>@domain>` (src/notifiers/email/message.ts).
 */
export const mailThreadOf = (incidentId: string, receiver: string): string =>
  createHash('sha256')
    .update(JSON.stringify([incidentId, receiver]))
    .digest('hex')
    .slice(0, 32);
const MAIL_THREAD = /<alertcenter\.([0-9a-f]{32})\.\d+@/;

const spread = (values: number[]): Spread => ({ min: Math.min(...values), max: Math.max(...values), total: values.reduce((a, b) => a + b, 0) });

/** Matches every arrival at the peers to its incident, and each incident to its group. */
export function accountStorm(
  plan: StormPlan,
  sent: readonly SentWebhook[],
  receipts: readonly Receipt[],
  incidents: readonly ListedIncident[],
  emailReceiver: string,
): StormAccount {
  const groupByName = new Map(plan.groups.map((group, g) => [groupName(group), g]));
  const groupOfIncident = new Map<string, number>();
  const threadOwner = new Map<string, string>();
  for (const incident of incidents) {
    const g = groupByName.get(`${incident.slo}/${incident.service}`);
    if (g === undefined) continue;
    groupOfIncident.set(incident.id, g);
    threadOwner.set(mailThreadOf(incident.id, emailReceiver), incident.id);
  }
  const per = plan.groups.map(() => ({ incidents: 0, pages: new Set<string>(), triggers: 0, slackPosts: 0, mailThreads: 0, firstPageAt: Infinity }));
  for (const g of groupOfIncident.values()) per[g]!.incidents += 1;
  let unmatched = 0;
  let slackUpdates = 0;
  let slackReplies = 0;
  let mails = 0;
  for (const receipt of receipts) {
    if (receipt.channel === 'pagerduty') {
      const id = receipt.dedupKey.startsWith(PAGERDUTY_KEY_PREFIX) ? receipt.dedupKey.slice(PAGERDUTY_KEY_PREFIX.length) : '';
      const g = groupOfIncident.get(id);
      if (g === undefined) unmatched += 1;
      else if (receipt.action === 'trigger') {
        per[g]!.pages.add(receipt.dedupKey);
        per[g]!.triggers += 1;
        per[g]!.firstPageAt = Math.min(per[g]!.firstPageAt, receipt.at);
      }
    } else if (receipt.channel === 'slack') {
      if (receipt.method !== 'chat.postMessage' && receipt.method !== 'chat.update') continue; // look-ups
      const g = receipt.incidentId === null ? undefined : groupOfIncident.get(receipt.incidentId);
      if (receipt.method === 'chat.update') slackUpdates += 1;
      else if (receipt.threadTs !== null) slackReplies += 1;
      else if (g === undefined) unmatched += 1;
      else per[g]!.slackPosts += 1;
    } else {
      mails += 1;
      const thread = MAIL_THREAD.exec(receipt.inReplyTo ?? receipt.messageId ?? '')?.[1];
      const id = thread === undefined ? undefined : threadOwner.get(thread);
      const g = id === undefined ? undefined : groupOfIncident.get(id);
      if (g === undefined) unmatched += 1;
      else if (receipt.inReplyTo === null) per[g]!.mailThreads += 1;
    }
  }
  const answered = new Map(sent.map((webhook) => [webhook.n, webhook]));
  const firstCritical = plan.groups.map((_, g) => {
    const first = plan.webhooks.find((webhook) => webhook.group === g && webhook.severity === 'critical' && answered.get(webhook.n)?.status === 202);
    return first === undefined ? undefined : answered.get(first.n)!.answeredAt;
  });
  const firstPage = per.flatMap((group, g) =>
    firstCritical[g] === undefined || group.firstPageAt === Infinity ? [] : [group.firstPageAt - firstCritical[g]!],
  );
  const deviations: StormAccount['deviations'] = {};
  let exactGroups = 0;
  per.forEach((group, g) => {
    const counts = { incidents: group.incidents, pages: group.pages.size, slackPosts: group.slackPosts, mailThreads: group.mailThreads };
    if (Object.values(counts).every((count) => count === 1)) exactGroups += 1;
    else deviations[groupName(plan.groups[g]!)] = counts;
  });
  return {
    groups: plan.groups.length,
    incidents: spread(per.map((group) => group.incidents)),
    pages: spread(per.map((group) => group.pages.size)),
    triggers: spread(per.map((group) => group.triggers)),
    slackPosts: spread(per.map((group) => group.slackPosts)),
    slackUpdates,
    slackReplies,
    mailThreads: spread(per.map((group) => group.mailThreads)),
    mails,
    exactGroups,
    unmatched,
    firstPageMs: {
      p50: round(percentile(firstPage, 50)),
      p99: round(percentile(firstPage, 99)),
      max: round(percentile(firstPage, 100)),
      paged: firstPage.length,
    },
    deviations,
  };
}
