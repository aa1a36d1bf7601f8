import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SlackPeer, startSlackPeer } from '../peers/slack-peer.js';
import { exited, type RouterProcess, startRouterProcess } from '../support/processes.js';
import { cleanRedis, eventually, REDIS_URL, testPrefix } from '../support/router.js';
import { printFigures } from './figures.js';
import { CATEGORIES, type FuzzCase, hostileCase, validCase } from './fuzz-cases.js';

const HOSTILE_PAYLOADS = 10_000;
/** One valid webhook after every 100 hostile ones. */
const VALID_EVERY = 100;
const CONCURRENCY = 16;
/** Small, so that bodies over the limit stay cheap to send. */
const MAX_BODY_BYTES = 128 * 1024;
/** A bound on leaks, not on speed: V8 may keep garbage around, but not 150 MB of it. */
const RSS_GROWTH_BOUND_MB = 150;
const SLACK_TOKEN = 'xoxb-hostile-fuzz';
const WEBHOOK = '/api/v1/webhooks/alertmanager';

/** Reproduce a run with HOSTILE_SEED=<seed>; each case rebuilds from (seed, index) alone. */
const SEED = Number(process.env.HOSTILE_SEED ?? Math.floor(Math.random() * 2 ** 31));

function rssMb(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Math.round(Number(kb) / 1024);
}

/** User plus system CPU time of a process, from /proc/<pid>/stat (clock ticks of 1/100 s on Linux). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Math.round((Number(fields[11]) + Number(fields[12])) / 100);
}

interface Failure {
  request: number;
  category: string;
  problem: string;
  /** Where the whole body was written, to replay it. */
  bodyFile: string;
  bodyPreview: string;
}

const isErrorBody = (body: any) =>
  typeof body?.error?.code === 'string' && body.error.code !== '' && typeof body.error.message === 'string' && body.error.message !== '';

describe('fuzzing the webhook with 10,000 broken payloads', () => {
  let slack: SlackPeer;
  let router: RouterProcess;
  const prefix = testPrefix();

  beforeAll(async () => {
    slack = await startSlackPeer({ token: SLACK_TOKEN });
    router = await startRouterProcess({
      REDIS_URL,
      REDIS_PREFIX: prefix,
      MAX_BODY_BYTES: String(MAX_BODY_BYTES),
      LOG_LEVEL: 'warn',
      SLACK_BOT_TOKEN: SLACK_TOKEN,
      SLACK_API_URL: slack.url,
    });
    await eventually(() => fetch(`${router.url}/readyz`).then((res) => res.ok), 10_000, 'router to be ready');
  });

  afterAll(async () => {
    router?.child.kill('SIGTERM');
    if (router) await exited(router.child);
    await Promise.all([slack?.close(), cleanRedis(prefix)]);
  });

  it('answers each with a 4xx JSON error, keeps serving, delivers every valid webhook in between, and keeps its memory', async () => {
    console.log(`HOSTILE fuzz seed ${SEED} (reproduce with HOSTILE_SEED=${SEED})`);
    const pid = router.child.pid!;
    const rssStart = rssMb(pid);
    const startedAt = Date.now();

    const byStatus: Record<string, number> = {};
    const byCategory: Record<string, number> = {};
    let connectionsCut = 0;
    const failures: Failure[] = [];
    const validMarkers: string[] = [];
    let validAccepted = 0;

    const fail = (request: number, fuzzCase: FuzzCase, problem: string) => {
      const bodyFile = join(tmpdir(), `hostile-fuzz-${SEED}-${request}.bin`);
      writeFileSync(bodyFile, fuzzCase.body);
      const preview = Buffer.from(fuzzCase.body.subarray(0, 300)).toString('utf8');
      failures.push({ request, category: fuzzCase.category, problem, bodyFile, bodyPreview: JSON.stringify(preview) });
    };

    const send = (fuzzCase: FuzzCase) => {
      const { body } = fuzzCase;
      // `duplex` (needed for a stream body) is missing from the RequestInit type of @types/node.
      const init: RequestInit & { duplex: 'half' } = {
        method: 'POST',
        headers: fuzzCase.contentType === undefined ? {} : { 'content-type': fuzzCase.contentType },
        body: fuzzCase.chunked
          ? new ReadableStream({
              start(controller) {
                for (let at = 0; at < body.length; at += 16 * 1024) controller.enqueue(body.subarray(at, at + 16 * 1024));
                controller.close();
              },
            })
          : body,
        duplex: 'half',
        signal: AbortSignal.timeout(20_000),
      };
      return fetch(`${router.url}${WEBHOOK}`, init);
    };

    const sendValid = async (request: number, number: number) => {
      const marker = `vfz${number}s${SEED}`;
      const fuzzCase = validCase(SEED, number, marker);
      validMarkers.push(marker);
      const res = await send(fuzzCase).catch((error: Error) => error);
      if (res instanceof Error) return fail(request, fuzzCase, `valid webhook got no answer: ${String(res.cause ?? res)}`);
      const answer = await res.text();
      if (res.status === 202 && JSON.parse(answer).accepted === 1) validAccepted += 1;
      else fail(request, fuzzCase, `valid webhook answered ${res.status} ${answer.slice(0, 300)}`);
    };

    const sendHostile = async (request: number, index: number) => {
      const fuzzCase = hostileCase(SEED, index, MAX_BODY_BYTES);
      byCategory[fuzzCase.category] = (byCategory[fuzzCase.category] ?? 0) + 1;
      let res: Response;
      try {
        res = await send(fuzzCase);
      } catch (error) {
        // A body streamed past the limit may be cut off instead of answered: the router stops reading it.
        if (fuzzCase.chunked) {
          connectionsCut += 1;
          return;
        }
        return fail(request, fuzzCase, `no answer: ${String((error as Error).cause ?? error)}`);
      }
      const answer = await res.text();
      byStatus[res.status] = (byStatus[res.status] ?? 0) + 1;
      let parsed: unknown;
      try {
        parsed = JSON.parse(answer);
      } catch {
        parsed = undefined;
      }
      const json = res.headers.get('content-type')?.startsWith('application/json') ?? false;
      if (res.status < 400 || res.status >= 500 || !json || !isErrorBody(parsed)) {
        fail(request, fuzzCase, `answered ${res.status} ${res.headers.get('content-type')} ${answer.slice(0, 300)}`);
      }
    };

    const healthCheck = async (request: number) => {
      const res = await fetch(`${router.url}/healthz`).catch((error: Error) => error);
      if (res instanceof Error || res.status !== 200) {
        failures.push({ request, category: 'healthz', problem: `healthz: ${res instanceof Error ? res.message : res.status}`, bodyFile: '', bodyPreview: '' });
      }
    };

    // Requests 0..N-1, every (VALID_EVERY+1)-th one valid, over keep-alive connections (fetch's pool).
    const total = HOSTILE_PAYLOADS + HOSTILE_PAYLOADS / VALID_EVERY;
    let next = 0;
    const worker = async () => {
      while (next < total && failures.length < 10) {
        const request = next++;
        const slot = request % (VALID_EVERY + 1);
        const round = Math.floor(request / (VALID_EVERY + 1));
        if (slot === VALID_EVERY) await sendValid(request, round);
        else await sendHostile(request, round * VALID_EVERY + slot);
        if (request % 1000 === 999) await healthCheck(request);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    await healthCheck(total);

    const sentFor = Date.now() - startedAt;
    const delivered = () => {
      const posted = [...slack.messages.values()].map((message) => JSON.stringify(message)).join('\n');
      return validMarkers.filter((marker) => posted.includes(marker));
    };
    if (failures.length === 0) {
      await eventually(() => delivered().length === validMarkers.length, 30_000, 'every valid webhook to reach Slack').catch(() => undefined);
    }
    const deliveredMarkers = delivered();
    const rssEnd = rssMb(pid);
    const errorLines = router
      .output()
      .split('\n')
      .filter((line) => line.includes('"level":"error"'));

    const fuzzed = Object.values(byCategory).reduce((a, b) => a + b, 0);
    printFigures('fuzz', {
      seed: SEED,
      payloadsFuzzed: fuzzed,
      categories: CATEGORIES.length,
      byCategory,
      answersByStatus: byStatus,
      chunkedConnectionsCut: connectionsCut,
      valid: { sent: validMarkers.length, accepted: validAccepted, delivered: deliveredMarkers.length, slackMessages: slack.messages.size },
      rssMb: { start: rssStart, end: rssEnd },
      routerErrorLogLines: errorLines.length,
      routerCpuSeconds: cpuSeconds(pid),
      sendingSeconds: Math.round(sentFor / 1000),
    });

    expect(failures, `seed ${SEED}: ${JSON.stringify(failures, null, 2)}`).toEqual([]);
    expect(router.child.exitCode).toBeNull();
    expect(fuzzed).toBe(HOSTILE_PAYLOADS);
    expect(validAccepted).toBe(HOSTILE_PAYLOADS / VALID_EVERY);
    expect(validMarkers.filter((marker) => !deliveredMarkers.includes(marker))).toEqual([]);
    // Nothing refused reached Slack: one message per valid webhook, no more.
    expect(slack.messages.size).toBe(validMarkers.length);
    expect(errorLines).toEqual([]);
    expect(rssEnd - rssStart).toBeLessThan(RSS_GROWTH_BOUND_MB);
  }, 180_000);
});
