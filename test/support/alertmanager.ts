import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { exited, freePort } from './processes.js';
import { eventually } from './router.js';

/** Where the Debian package `prometheus-alertmanager` puts the binary (.ci/run installs it). */
export const ALERTMANAGER_BINARY = '/usr/bin/prometheus-alertmanager';
export const hasAlertmanager = existsSync(ALERTMANAGER_BINARY);

/** An alert as Prometheus posts it to `POST /api/v2/alerts`. */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
}

/** An alert as `GET /api/v2/alerts` lists it. */
export interface GettableAlert {
  fingerprint: string;
  labels: Record<string, string>;
  status: { state: 'active' | 'suppressed' | 'unprocessed' };
}

export interface AlertmanagerProcess {
  url: string;
  postAlerts(alerts: PostableAlert[]): Promise<void>;
  alerts(): Promise<GettableAlert[]>;
  /** Webhook requests the receivers answered with 2xx, from Alertmanager's own metrics. */
  successfulWebhooks(): Promise<number>;
  /** What it logged, to explain a failing test. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * A real, unclustered Alertmanager on a free loopback port, with its own config file and storage
 * in a temporary folder (removed on stop). `config` is the Alertmanager configuration as an object.
 */
export async function startAlertmanager(config: object): Promise<AlertmanagerProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'alertcenter-alertmanager-'));
  const configFile = join(dir, 'am.yml');
  writeFileSync(configFile, stringify(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    ALERTMANAGER_BINARY,
    [
      `--config.file=${configFile}`,
      `--storage.path=${dir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // Empty disables clustering: each instance notifies on its own, as two unclustered replicas would.
      '--cluster.listen-address=',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const collect = (chunk: Buffer) => (output += chunk.toString());
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);

  const alertmanager: AlertmanagerProcess = {
    url,
    async postAlerts(alerts) {
      const response = await fetch(`${url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alerts),
      });
      if (!response.ok) throw new Error(`Alertmanager refused the alerts: ${response.status} ${await response.text()}`);
    },
    async alerts() {
      return (await (await fetch(`${url}/api/v2/alerts`)).json()) as GettableAlert[];
    },
    async successfulWebhooks() {
      const text = await (await fetch(`${url}/metrics`)).text();
      return webhookMetric(text, 'alertmanager_notification_requests_total') - webhookMetric(text, 'alertmanager_notification_requests_failed_total');
    },
    output: () => output,
    stop: () => stopAlertmanager(child, dir),
  };
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`Alertmanager exited with ${child.exitCode}: ${output}`);
        return fetch(`${url}/-/ready`).then(
          (res) => res.ok,
          () => false,
        );
      },
      10_000,
      `Alertmanager on port ${port} to be ready`,
    );
  } catch (error) {
    await alertmanager.stop();
    throw error;
  }
  return alertmanager;
}

/** Alertmanager writes its state on SIGTERM: wait for that before removing its folder. */
async function stopAlertmanager(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    await exited(child);
  }
  rmSync(dir, { recursive: true, force: true });
}

function webhookMetric(text: string, name: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}{integration="webhook"} `));
  if (line === undefined) throw new Error(`Alertmanager exposes no ${name} for the webhook integration`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}
