import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChannelPeers, startChannelPeers } from '../peers/channel-peers.js';
import { type AlertmanagerProcess, hasAlertmanager, type PostableAlert, startAlertmanager } from '../support/alertmanager.js';
import { cleanRedis, eventually, startTestRouter, type TestRouter } from '../support/router.js';
import { slackClickBody, slackHeaders } from './signed.js';

const SLACK_SECRET = 'slack-signing-silences-3e1f';
const WEBHOOK = '/api/v1/webhooks/alertmanager';

function routingFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'alertcenter-silences-')), 'routes.yaml');
  writeFileSync(
    file,
    `
receivers:
  - { name: oncall-pagerduty, pagerduty: {} }
  - { name: ops-slack, slack: { channel: "#maestro-alerts" } }
routes:
  - { name: pages, matchers: ['severity="critical"'], receivers: [oncall-pagerduty, ops-slack], resolve_hold: 1s }
default_receivers: [ops-slack]
`,
  );
  return file;
}

/** One webhook as an Alertmanager sent it: which alerts of which service, firing or resolved. */
interface Seen {
  at: number;
  alerts: Array<{ service: string; status: string; fingerprint: string }>;
}

/** Records every webhook the Alertmanagers send, and hands it on to the router as sent. */
async function startRecorder(routerUrl: () => string): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const payload = JSON.parse(body) as { alerts: Array<{ labels: Record<string, string>; status: string; fingerprint: string }> };
    seen.push({
      at: Date.now(),
      alerts: payload.alerts.map((alert) => ({ service: alert.labels.service!, status: alert.status, fingerprint: alert.fingerprint })),
    });
    const answer = await fetch(`${routerUrl()}${WEBHOOK}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(await answer.text());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function alert(service: string, ending: 'firing' | 'resolved'): PostableAlert {
  const now = Date.now();
  return {
    labels: { alertname: 'MaestroSLOErrorBudgetBurn', slo: 'database-availability', service, severity: 'critical', long_window: '1h', short_window: '5m' },
    annotations: {
      summary: 'database-availability is burning its error budget',
      burn_rate: '15',
      burn_rate_short: '20',
      burn_rate_long: '15',
      error_budget_remaining: '0.6',
    },
    startsAt: new Date(now - 60_000).toISOString(),
    endsAt: new Date(ending === 'firing' ? now + 10 * 60_000 : now - 1_000).toISOString(),
    generatorURL: 'http://prometheus.maestro.example:9090/graph',
  };
}

interface GettableSilence {
  id: string;
  status: { state: 'active' | 'pending' | 'expired' };
  createdBy: string;
  comment: string;
  matchers: Array<{ name: string; value: string; isRegex: boolean; isEqual?: boolean }>;
}

const title = `silences through two unclustered real Alertmanagers${hasAlertmanager ? '' : ' (skipped: prometheus-alertmanager not installed)'}`;

describe.skipIf(!hasAlertmanager)(title, () => {
  let peers: ChannelPeers;
  let router: TestRouter;
  let recorder: Awaited<ReturnType<typeof startRecorder>>;
  const alertmanagers: AlertmanagerProcess[] = [];

  beforeAll(async () => {
    peers = await startChannelPeers();
    // The router needs the Alertmanagers' URLs and they need the router's: the recorder in between learns it last.
    recorder = await startRecorder(() => router.url);
    const config = {
      route: { receiver: 'alertcenter', group_by: ['alertname', 'slo', 'service'], group_wait: '1s', group_interval: '1s', repeat_interval: '2s' },
      receivers: [{ name: 'alertcenter', webhook_configs: [{ url: `${recorder.url}${WEBHOOK}`, send_resolved: true }] }],
    };
    alertmanagers.push(...(await Promise.all([startAlertmanager(config), startAlertmanager(config)])));
    router = await startTestRouter({
      ...peers.env,
      ROUTING_FILE: routingFile(),
      SLACK_SIGNING_SECRETS: SLACK_SECRET,
      ALERTMANAGER_URLS: alertmanagers.map((alertmanager) => alertmanager.url).join(','),
      ALERTMANAGER_CHECK_INTERVAL: '1s',
      PUBLIC_URL: 'https://alertcenter.maestro.example',
    });
  });
  afterAll(async () => {
    await Promise.all(alertmanagers.map((alertmanager) => alertmanager.stop()));
    await router?.stop();
    await Promise.all([peers?.close(), recorder?.close(), router && cleanRedis(router.prefix)]);
  });

  const postToAll = (alerts: PostableAlert[]) => Promise.all(alertmanagers.map((alertmanager) => alertmanager.postAlerts(alerts)));
  const detail = async (id: string) => (await (await fetch(`${router.url}/api/v1/incidents/${id}`)).json()) as any;
  const incidentOf = async (service: string) => {
    const { incidents } = (await (await fetch(`${router.url}/api/v1/incidents`)).json()) as any;
    return incidents.find((incident: any) => incident.service === service);
  };
  const click = (action: string, incidentId: string) => {
    const body = slackClickBody({ action, incidentId, responseUrl: peers.slack.responseUrl() });
    return fetch(`${router.url}/api/v1/slack/interactions`, { method: 'POST', body, headers: slackHeaders(SLACK_SECRET, body) });
  };
  const silencesOf = async (alertmanager: AlertmanagerProcess) => (await (await fetch(`${alertmanager.url}/api/v2/silences`)).json()) as GettableSilence[];
  /** Webhooks carrying the service's alert since `since` (epoch ms), with that status. */
  const webhooksFor = (service: string, since: number, status?: string) =>
    recorder.seen.filter(
      (seen) => seen.at >= since && seen.alerts.some((alert) => alert.service === service && (status === undefined || alert.status === status)),
    );
  const buttonsOf = (service: string): string[] => {
    const message = [...peers.slack.messages.values()].find((m) => m.thread_ts === undefined && JSON.stringify(m).includes(service));
    return JSON.stringify(message?.attachments ?? []).match(/alertcenter_[a-z0-9_]+/g) ?? [];
  };

  it('a Silence click silences on both, the silenced alert sends no more webhooks, Unsilence expires both; a silenced incident still resolves', async () => {
    const silenced = 'silenced-service';
    const control = 'control-service';
    await postToAll([alert(silenced, 'firing'), alert(control, 'firing')]);
    const incident = await eventually(() => incidentOf(silenced), 15_000, 'the incident from both Alertmanagers');
    await eventually(() => buttonsOf(silenced).includes('alertcenter_silence_1h'), 15_000, 'the Slack message with its buttons');

    // Silence 1h from Slack.
    expect((await click('alertcenter_silence_1h', incident.id)).status).toBe(200);
    const silencedIncident = await eventually(async () => (await detail(incident.id)).incident.silenced, 15_000, 'the silence on the incident');
    expect(silencedIncident.silences).toHaveLength(2);
    expect(new Set(silencedIncident.silences.map((ref: any) => ref.alertmanager))).toEqual(new Set(alertmanagers.map((alertmanager) => alertmanager.url)));
    for (const [i, alertmanager] of alertmanagers.entries()) {
      const made = (await silencesOf(alertmanager)).find(
        (candidate) => candidate.id === silencedIncident.silences.find((ref: any) => ref.alertmanager === alertmanager.url).id,
      );
      expect(made, `silence on Alertmanager ${i + 1}`).toBeDefined();
      expect(made!.status.state).toBe('active');
      expect(made!.createdBy).toBe('@alice (Slack U0ALICE)');
      expect(made!.comment).toContain(`https://alertcenter.maestro.example/incidents/${incident.id}`);
      expect(made!.matchers.map(({ name, value, isRegex }) => ({ name, value, isRegex }))).toEqual([
        { name: 'alertname', value: 'MaestroSLOErrorBudgetBurn', isRegex: false },
        { name: 'service', value: silenced, isRegex: false },
        { name: 'slo', value: 'database-availability', isRegex: false },
      ]);
    }
    await eventually(() => buttonsOf(silenced).includes('alertcenter_unsilence'), 15_000, 'the Unsilence button');

    // Both Alertmanagers mute it now: the control incident keeps getting its repeats, the silenced one none.
    await eventually(
      async () => {
        const listed = await Promise.all(alertmanagers.map((alertmanager) => alertmanager.alerts()));
        return listed.every((alerts) => alerts.find((candidate) => candidate.labels.service === silenced)?.status.state === 'suppressed');
      },
      10_000,
      'both Alertmanagers to suppress the alert',
    );
    const mutedSince = Date.now();
    await eventually(() => webhooksFor(control, mutedSince).length >= 4, 20_000, 'two repeats of the control alert from each Alertmanager');
    expect(webhooksFor(silenced, mutedSince)).toEqual([]);

    // Unsilence: expired on both, and its webhooks come back.
    expect((await click('alertcenter_unsilence', incident.id)).status).toBe(200);
    await eventually(async () => (await detail(incident.id)).incident.silenced === null, 15_000, 'the incident to be unsilenced');
    for (const alertmanager of alertmanagers) {
      const states = (await silencesOf(alertmanager))
        .filter((candidate) => silencedIncident.silences.some((ref: any) => ref.id === candidate.id))
        .map((candidate) => candidate.status.state);
      expect(states).toEqual(['expired']);
    }
    const unmutedAt = Date.now();
    await eventually(() => webhooksFor(silenced, unmutedAt).length >= 2, 20_000, 'its webhooks from both Alertmanagers again');

    // Silenced again (the API this time), then it resolves: no webhook says so, Alertmanager's list does.
    const api = await fetch(`${router.url}/api/v1/incidents/${incident.id}/silence`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ by: 'carol', for: '1h', comment: 'rolling back' }),
    });
    expect(api.status).toBe(200);
    await eventually(
      async () => {
        const listed = await Promise.all(alertmanagers.map((alertmanager) => alertmanager.alerts()));
        return listed.every((alerts) => alerts.find((candidate) => candidate.labels.service === silenced)?.status.state === 'suppressed');
      },
      10_000,
      'both Alertmanagers to suppress the alert again',
    );
    const resolvedAt = Date.now();
    await postToAll([alert(silenced, 'resolved')]);
    const resolved = await eventually(
      async () => {
        const found = await detail(incident.id);
        return found.incident.state === 'resolved' ? found : undefined;
      },
      20_000,
      'the silenced incident to resolve',
    );
    expect(resolved.timeline.find((event: any) => event.kind === 'alertmanager_checked')).toMatchObject({ resolved: Object.keys(resolved.incident.alerts) });
    expect(Object.keys(resolved.incident.alerts)).toHaveLength(1);
    expect(webhooksFor(silenced, resolvedAt, 'resolved')).toEqual([]);
    expect((await incidentOf(control)).state).toBe('open');
  });
});
