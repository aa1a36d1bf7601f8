import { spawn } from 'node:child_process';
import { connect, createServer, type Server } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/processes.js';
import { REDIS_URL, testPrefix } from '../support/router.js';
import { printFigures } from './figures.js';

const INVALID = 'alertcenter: invalid configuration:';
const CANNOT_START = 'alertcenter: cannot start:';
const EX_CONFIG = 78;
/** Bad configuration must end the process at once; this only stops a hung one from hanging the suite. */
const EXIT_DEADLINE_MS = 20_000;

interface Outcome {
  code: number | string;
  stdout: string;
  stderr: string;
}

/** `node --import tsx src/main.ts` with only `env` (and PATH): what an operator's deployment runs. */
async function runRouter(env: Record<string, string>): Promise<Outcome> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const deadline = setTimeout(() => child.kill('SIGKILL'), EXIT_DEADLINE_MS);
  // 'close', not 'exit': by then the pipes have delivered all the process wrote.
  const code = await new Promise<number | string>((resolve) => child.once('close', (exitCode, signal) => resolve(exitCode ?? signal ?? 'unknown')));
  clearTimeout(deadline);
  return { code, stdout, stderr };
}

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const fixture = (name: string) => `test/fixtures/routing/${name}`;

/** [what, environment, exit code, the one line on stderr ({port} stands for the port)] */
const CASES: Array<[string, Record<string, string>, number, string]> = [
  ['a port out of range', { PORT: '70000' }, EX_CONFIG, `${INVALID} PORT: expected an integer from 0 to 65535, got "70000"`],
  ['a port that is no number', { PORT: 'http' }, EX_CONFIG, `${INVALID} PORT: expected an integer from 0 to 65535, got "http"`],
  ['a Redis URL without a scheme', { REDIS_URL: 'localhost:6379' }, EX_CONFIG, `${INVALID} REDIS_URL: expected a redis or rediss URL, got localhost://...`],
  ['a malformed Redis URL', { REDIS_URL: 'redis://[127.0.0.1:6379' }, EX_CONFIG, `${INVALID} REDIS_URL: expected a redis or rediss URL, got a malformed one`],
  [
    'HOST=0.0.0.0 without tokens',
    { HOST: '0.0.0.0' },
    EX_CONFIG,
    `${INVALID} HOST: refusing to listen on 0.0.0.0 without WEBHOOK_TOKENS and ADMIN_TOKEN: set them, or keep HOST on loopback (127.0.0.1)`,
  ],
  [
    'HOST=0.0.0.0 with webhook tokens only',
    { HOST: '0.0.0.0', WEBHOOK_TOKENS: 'some-webhook-token' },
    EX_CONFIG,
    `${INVALID} HOST: refusing to listen on 0.0.0.0 without ADMIN_TOKEN: set them, or keep HOST on loopback (127.0.0.1)`,
  ],
  // Redis set-ups (the test's REDIS_URL is set unless a case empties it).
  [
    'two Redis set-ups at once',
    { REDIS_SENTINELS: '127.0.0.1:26379', REDIS_SENTINEL_NAME: 'mymaster', REDIS_CLUSTER_NODES: '127.0.0.1:7000' },
    EX_CONFIG,
    `${INVALID} REDIS_SENTINELS, REDIS_CLUSTER_NODES: set one Redis set-up, not both`,
  ],
  [
    'a Redis URL beside cluster nodes',
    { REDIS_CLUSTER_NODES: '127.0.0.1:7000' },
    EX_CONFIG,
    `${INVALID} REDIS_URL, REDIS_CLUSTER_NODES: set one Redis set-up, not both (credentials go in REDIS_USERNAME and REDIS_PASSWORD)`,
  ],
  [
    'sentinels without the master name',
    { REDIS_URL: '', REDIS_SENTINELS: '127.0.0.1:26379' },
    EX_CONFIG,
    `${INVALID} REDIS_SENTINEL_NAME: required with REDIS_SENTINELS: the name of the master the sentinels monitor`,
  ],
  [
    'a hash tag in the prefix',
    { REDIS_PREFIX: '{alertcenter}' },
    EX_CONFIG,
    `${INVALID} REDIS_PREFIX: expected letters, digits and :._- only (the router adds its own {hash tags})`,
  ],
  ['a duration without a unit', { REQUEST_TIMEOUT: '30' }, EX_CONFIG, `${INVALID} REQUEST_TIMEOUT: expected a duration such as 10s or 5m, got "30"`],
  [
    'a routing file with an undefined receiver',
    { ROUTING_FILE: fixture('invalid/undefined-receiver.yaml') },
    1,
    `${CANNOT_START} ${fixture('invalid/undefined-receiver.yaml')}:14:17: routes[1].receivers[0]: undefined receiver "ops-pager"`,
  ],
  [
    'a routing file with a bad regex',
    { ROUTING_FILE: fixture('invalid/bad-regex.yaml') },
    1,
    `${CANNOT_START} ${fixture('invalid/bad-regex.yaml')}:6:39: routes[0].matchers[1]: invalid regular expression "api-(latency" (Unterminated group)`,
  ],
  [
    'a missing routing file',
    { ROUTING_FILE: 'routing/no-such-routes.yaml' },
    1,
    `${CANNOT_START} routing/no-such-routes.yaml: cannot read the routing file (ENOENT)`,
  ],
  [
    'a bad SLO catalog',
    { SLO_CATALOG_FILE: fixture('bad-slos.yaml') },
    1,
    `${CANNOT_START} ${fixture('bad-slos.yaml')}: slos[0].objective: Too big: expected number to be <100`,
  ],
  [
    'a missing SLO catalog',
    { SLO_CATALOG_FILE: 'routing/no-such-slos.yaml' },
    1,
    `${CANNOT_START} routing/no-such-slos.yaml: cannot read SLO catalog (ENOENT)`,
  ],
];

describe('bad environment values and bad files, on the real process', () => {
  let redis: Redis;
  let occupied: Server;
  let occupiedPort: number;
  let refused = 0;

  beforeAll(async () => {
    redis = new Redis(REDIS_URL);
    occupied = createServer();
    await new Promise<void>((resolve) => occupied.listen(0, '127.0.0.1', resolve));
    occupiedPort = (occupied.address() as { port: number }).port;
  });

  afterAll(async () => {
    printFigures('bad-config', { cases: CASES.length + 1, refused });
    redis.disconnect();
    await new Promise((resolve) => occupied.close(resolve));
  });

  /** The whole refusal: exit code, exactly one stderr line, and nothing left behind in Redis. */
  async function expectRefusal(env: Record<string, string>, code: number, line: string) {
    const prefix = testPrefix();
    const outcome = await runRouter({ HOST: '127.0.0.1', REDIS_URL, REDIS_PREFIX: prefix, ...env });
    expect(outcome.code).toBe(code);
    expect(outcome.stderr).toBe(`${line}\n`);
    expect([...(await redis.keys(`${prefix}:*`)), ...(await redis.keys(`{${prefix}:*`))]).toEqual([]);
    refused += 1;
    return outcome;
  }

  it.each(CASES)('%s: one line naming it, a non-zero exit, nothing listening or stored', async (_name, env, code, line) => {
    const port = await freePort();
    const outcome = await expectRefusal({ PORT: String(port), ...env }, code, line);
    // Refused before anything started, the logger included.
    if (code === EX_CONFIG) expect(outcome.stdout).toBe('');
    expect(await isListening(port)).toBe(false);
  });

  it('a port already in use: one line, exit 1, nothing stored', async () => {
    await expectRefusal({ PORT: String(occupiedPort) }, 1, `${CANNOT_START} listen EADDRINUSE: address already in use 127.0.0.1:${occupiedPort}`);
  });
});
