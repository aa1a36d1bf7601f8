/**
 * A real Prometheus (Debian's `prometheus`, `promtool`) for the report's tests and the playground:
 * its own port on loopback, its own data directory, history backfilled with promtool.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';

const run = promisify(execFile);

/** A free TCP port on 127.0.0.1 (released just before the caller binds it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface PrometheusProcess {
  url: string;
  port: number;
  dataDir: string;
  child: ChildProcess;
  /** Everything it logged, for a test's failure message. */
  log(): string;
  stop(): Promise<void>;
}

export interface PrometheusStart {
  dir: string;
  port?: number;
  /** prometheus.yml content; the default scrapes nothing. */
  config?: string;
  extraArgs?: string[];
}

/** Starts Prometheus and waits until /-/ready answers (or it exits: the error carries its log). */
export async function startPrometheus(options: PrometheusStart): Promise<PrometheusProcess> {
  const port = options.port ?? (await freePort());
  const dataDir = join(options.dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const configFile = join(options.dir, 'prometheus.yml');
  writeFileSync(configFile, options.config ?? 'global:\n  scrape_interval: 1m\n');
  const child = spawn(
    'prometheus',
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${dataDir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // Backfilled history is weeks old: keep it whatever the default retention.
      '--storage.tsdb.retention.time=10y',
      '--web.enable-lifecycle',
      ...(options.extraArgs ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`prometheus exited (${code}) before it was ready:\n${log.slice(-2000)}`))),
  );
  const url = `http://127.0.0.1:${port}`;
  const ready = (async () => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ok = await fetch(`${url}/-/ready`).then(
        (res) => res.ok,
        () => false,
      );
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`prometheus not ready within 30 s:\n${log.slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  try {
    await Promise.race([ready, exited]);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  exited.catch(() => {});
  return {
    url,
    port,
    dataDir,
    child,
    log: () => log,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
      }),
  };
}

/**
 * Turns OpenMetrics text into TSDB blocks in `dataDir` (`promtool tsdb create-blocks-from openmetrics`).
 * Blocks of up to 31 days: promtool's default of 2 hours makes hundreds of blocks and takes minutes.
 */
export async function createBlocksFromOpenMetrics(openMetrics: string, workDir: string, dataDir: string): Promise<void> {
  const file = join(workDir, 'history.om');
  writeFileSync(file, openMetrics);
  mkdirSync(dataDir, { recursive: true });
  await run('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', '--quiet', '--max-block-duration=744h', file, dataDir], { maxBuffer: 16 * 1024 * 1024 });
}

/**
 * Backfills the recording rules of a rules file whose record name passes `pick`, over [start, end]
 * (epoch ms) every `stepSeconds`: each rule's expression is evaluated by the running Prometheus in one
 * range query (as a rule evaluated every step would have), written as OpenMetrics under the record's
 * name and labels, and turned into blocks in its data directory; Prometheus reads them after a restart.
 * `promtool tsdb create-blocks-from rules` does the same one 2-hour block at a time, and took minutes
 * for five weeks. Records that read other records need those backfilled (and loaded) first.
 */
export async function backfillRecords(
  prometheusUrl: string,
  rulesYaml: string,
  pick: (record: string) => boolean,
  range: { start: number; end: number; stepSeconds: number },
  workDir: string,
  dataDir: string,
): Promise<number> {
  const source = parse(rulesYaml) as { groups: Array<{ rules: Array<{ record?: string; expr: string; labels?: Record<string, string> }> }> };
  const families = new Map<string, string[]>();
  let samples = 0;
  for (const rule of source.groups.flatMap((group) => group.rules)) {
    if (rule.record === undefined || !pick(rule.record)) continue;
    const body = new URLSearchParams({ query: rule.expr, start: String(range.start / 1000), end: String(range.end / 1000), step: String(range.stepSeconds) });
    const res = await fetch(`${prometheusUrl}/api/v1/query_range`, { method: 'POST', body });
    const answer = (await res.json()) as {
      status: string;
      error?: string;
      data: { result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> };
    };
    if (answer.status !== 'success') throw new Error(`backfill of ${rule.record}: ${answer.error}`);
    const lines = families.get(rule.record) ?? [];
    families.set(rule.record, lines);
    for (const series of answer.data.result) {
      const labels = { ...series.metric, ...rule.labels };
      delete labels.__name__;
      const text = Object.entries(labels)
        .map(([name, value]) => `${name}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
        .join(',');
      for (const [t, value] of series.values) lines.push(`${rule.record}{${text}} ${value} ${t}`);
      samples += series.values.length;
    }
  }
  const out: string[] = [];
  for (const [name, lines] of families) out.push(`# TYPE ${name} gauge`, lines.join('\n'));
  out.push('# EOF', '');
  const file = join(workDir, `records-${Math.random().toString(36).slice(2)}.om`);
  writeFileSync(file, out.join('\n'));
  await run('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', '--quiet', '--max-block-duration=744h', file, dataDir], { maxBuffer: 16 * 1024 * 1024 });
  return samples;
}

/** Whether the Debian tools are installed; the message says how to get them when not. */
export async function checkPrometheusTools(tools: string[] = ['prometheus', 'promtool']): Promise<string | null> {
  const missing: string[] = [];
  for (const tool of tools) {
    try {
      await run('sh', ['-c', `command -v ${tool}`]);
    } catch {
      missing.push(tool);
    }
  }
  if (missing.length === 0) return null;
  const packages = new Set(missing.map((tool) => (tool === 'prometheus-alertmanager' || tool === 'amtool' ? 'prometheus-alertmanager' : 'prometheus')));
  return `missing ${missing.join(', ')}: install Debian's packages with\n  sudo apt-get install ${[...packages].join(' ')}`;
}

export const readText = (file: string) => readFileSync(file, 'utf8');
