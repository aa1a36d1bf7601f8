import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ALERTMANAGER_BINARY } from '../test/support/alertmanager.js';
import { freePort } from '../test/support/processes.js';
import { eventually } from '../test/support/router.js';
import { track } from './processes.js';

const SHIPPED_CONFIG = new URL('../deploy/alertmanager/alertmanager.yml', import.meta.url);

/**
 * Debian's `prometheus-alertmanager`, unclustered, on a free loopback port, with the shipped
 * configuration's route tree (grouping by the incident key) and a receiver that sends nothing: the
 * bench measures its ingest (`POST /api/v2/alerts`), not its notifications. Its config and storage
 * live in `dir` (the bench's work folder, removed at the end); the process is tracked with the
 * bench's others, so it is stopped also on an error or Ctrl-C.
 */
export async function startAlertmanager(dir: string): Promise<{ url: string; child: ChildProcess }> {
  const config = parse(readFileSync(SHIPPED_CONFIG, 'utf8')) as { receivers: Array<{ name: string }> };
  config.receivers = config.receivers.map(({ name }) => ({ name }));
  const configFile = join(dir, 'alertmanager.yml');
  writeFileSync(configFile, stringify(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = track(
    spawn(
      ALERTMANAGER_BINARY,
      [
        `--config.file=${configFile}`,
        `--storage.path=${join(dir, 'alertmanager-data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
        '--log.level=warn',
      ],
      { stdio: 'ignore' },
    ),
  );
  await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`Alertmanager exited with ${child.exitCode}`);
      return fetch(`${url}/-/ready`).then(
        (res) => res.ok,
        () => false,
      );
    },
    10_000,
    `Alertmanager on port ${port} to be ready`,
  );
  return { url, child };
}
