import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, secretsOf } from '../../src/config/env.js';

describe('loadConfig', () => {
  it('has working defaults on an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      role: 'all',
      port: 8080,
      host: '127.0.0.1',
      redisUrl: 'redis://127.0.0.1:6379',
      redisPrefix: 'alertcenter',
      webhookTokens: [],
      adminToken: undefined,
      maxBodyBytes: 1_048_576,
      routingFile: 'routing/routes.yaml',
      sloCatalogFile: 'routing/slos.yaml',
      defaultSeverity: 'warning',
      delivery: { attempts: 12, backoffMs: 2_000, timeoutMs: 10_000, concurrency: 16 },
      jobLockMs: 30_000,
      channels: {
        slack: { botToken: undefined, apiUrl: 'https://slack.com/api/' },
        email: { smtpUrl: undefined },
        pagerduty: { routingKey: undefined, server: 'events.pagerduty.com' },
      },
    });
  });

  it('reads the three Redis set-ups and the replica acknowledgement', () => {
    expect(loadConfig({}).redis).toEqual({ topology: { kind: 'single', url: 'redis://127.0.0.1:6379' }, minReplicasAck: 0, replicaAckTimeoutMs: 1_000 });
    expect(
      loadConfig({
        REDIS_SENTINELS: ' 10.0.0.1:26379, [fd00::2]:26380 ',
        REDIS_SENTINEL_NAME: 'mymaster',
        REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
        REDIS_PASSWORD: 'data-secret',
        REDIS_MIN_REPLICAS_ACK: '1',
        REDIS_REPLICA_ACK_TIMEOUT: '500ms',
      }).redis,
    ).toEqual({
      topology: {
        kind: 'sentinel',
        sentinels: [
          { host: '10.0.0.1', port: 26379 },
          { host: 'fd00::2', port: 26380 },
        ],
        name: 'mymaster',
        sentinelPassword: 'sentinel-secret',
        username: undefined,
        password: 'data-secret',
        tls: false,
      },
      minReplicasAck: 1,
      replicaAckTimeoutMs: 500,
    });
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'redis-0.redis:6379,redis-1.redis:6379', REDIS_TLS: 'true' }).redis.topology).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'redis-0.redis', port: 6379 },
        { host: 'redis-1.redis', port: 6379 },
      ],
      username: undefined,
      password: undefined,
      tls: true,
    });
  });

  it('keeps the Sentinel and Cluster passwords out of the logs', () => {
    const config = loadConfig({
      REDIS_SENTINELS: '10.0.0.1:26379',
      REDIS_SENTINEL_NAME: 'm',
      REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
      REDIS_PASSWORD: 'data-secret',
    });
    expect(secretsOf(config)).toEqual(expect.arrayContaining(['sentinel-secret', 'data-secret']));
  });

  it('splits and trims rotated webhook tokens', () => {
    expect(loadConfig({ WEBHOOK_TOKENS: ' old-token , new-token ,' }).webhookTokens).toEqual(['old-token', 'new-token']);
  });

  it('allows a non-loopback HOST once both tokens are set', () => {
    expect(loadConfig({ HOST: '0.0.0.0', WEBHOOK_TOKENS: 'a', ADMIN_TOKEN: 'b' }).host).toBe('0.0.0.0');
  });

  it('lets a worker, which serves only health and metrics, listen beyond loopback without tokens', () => {
    expect(loadConfig({ ROLE: 'worker', HOST: '0.0.0.0' })).toMatchObject({ role: 'worker', host: '0.0.0.0' });
  });

  // One case per bad setting; each message is one line that names the setting.
  it.each([
    [{ PORT: '70000' }, 'PORT: expected an integer from 0 to 65535, got "70000"'],
    [{ PORT: 'http' }, 'PORT: expected an integer from 0 to 65535, got "http"'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL: expected a redis or rediss URL, got a malformed one'],
    [{ REDIS_URL: 'http://127.0.0.1:6379' }, 'REDIS_URL: expected a redis or rediss URL, got http://...'],
    [{ MAX_BODY_BYTES: '12' }, 'MAX_BODY_BYTES: expected an integer from 1024 to 67108864, got "12"'],
    [{ ROLE: 'both' }, 'ROLE: Invalid option: expected one of "all"|"api"|"worker"'],
    [
      { ROLE: 'api', HOST: '0.0.0.0' },
      'HOST: refusing to listen on 0.0.0.0 without WEBHOOK_TOKENS and ADMIN_TOKEN: set them, or keep HOST on loopback (127.0.0.1)',
    ],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL: Invalid option: expected one of "fatal"|"error"|"warn"|"info"|"debug"|"trace"|"silent"'],
    [{ DEFAULT_SEVERITY: 'page' }, 'DEFAULT_SEVERITY: Invalid option: expected one of "critical"|"warning"|"info"'],
    [{ DELIVERY_TIMEOUT: '10 seconds' }, 'DELIVERY_TIMEOUT: expected a duration such as 10s or 5m, got "10 seconds"'],
    [{ JOB_LOCK_DURATION: '500ms' }, 'JOB_LOCK_DURATION: expected a duration of at least 1s, got "500ms"'],
    [{ SMTP_URL: 'mailto:ops@example.com' }, 'SMTP_URL: expected a smtp or smtps URL, got mailto://...'],
    [
      { EMAIL_FROM: 'Maestro <alerts@maestro.example\r\nBcc: x@evil.example>' },
      'EMAIL_FROM: expected an email address, optionally with a display name: Name <address>',
    ],
    [{ PAGERDUTY_SERVER: 'https://events.pagerduty.com' }, 'PAGERDUTY_SERVER: expected a host name such as events.pagerduty.com'],
    [{ REDIS_PREFIX: 'alert center' }, 'REDIS_PREFIX: expected letters, digits and :._- only (the router adds its own {hash tags})'],
    [{ REDIS_PREFIX: '{alertcenter}' }, 'REDIS_PREFIX: expected letters, digits and :._- only (the router adds its own {hash tags})'],
    [{ REDIS_SENTINELS: '10.0.0.1' }, 'REDIS_SENTINELS: expected a comma-separated list of host:port, got "10.0.0.1"'],
    [{ REDIS_CLUSTER_NODES: '10.0.0.1:7000,10.0.0.2:0' }, 'REDIS_CLUSTER_NODES: expected a comma-separated list of host:port, got "10.0.0.2:0"'],
    [{ REDIS_MIN_REPLICAS_ACK: '-1' }, 'REDIS_MIN_REPLICAS_ACK: expected an integer from 0 to 16, got "-1"'],
    [{ REDIS_REPLICA_ACK_TIMEOUT: '1' }, 'REDIS_REPLICA_ACK_TIMEOUT: expected a duration such as 10s or 5m, got "1"'],
    // Contradictions: two set-ups at once, or half of one.
    [
      { REDIS_SENTINELS: '10.0.0.1:26379', REDIS_SENTINEL_NAME: 'mymaster', REDIS_CLUSTER_NODES: '10.0.0.1:7000' },
      'REDIS_SENTINELS, REDIS_CLUSTER_NODES: set one Redis set-up, not both',
    ],
    [
      { REDIS_URL: 'redis://10.0.0.1:6379', REDIS_CLUSTER_NODES: '10.0.0.1:7000' },
      'REDIS_URL, REDIS_CLUSTER_NODES: set one Redis set-up, not both (credentials go in REDIS_USERNAME and REDIS_PASSWORD)',
    ],
    [
      { REDIS_URL: 'redis://10.0.0.1:6379', REDIS_SENTINELS: '10.0.0.1:26379', REDIS_SENTINEL_NAME: 'mymaster' },
      'REDIS_URL, REDIS_SENTINELS: set one Redis set-up, not both (credentials go in REDIS_USERNAME and REDIS_PASSWORD)',
    ],
    [{ REDIS_SENTINELS: '10.0.0.1:26379' }, 'REDIS_SENTINEL_NAME: required with REDIS_SENTINELS: the name of the master the sentinels monitor'],
    [{ REDIS_SENTINEL_NAME: 'mymaster' }, 'REDIS_SENTINEL_NAME: only mean something with REDIS_SENTINELS, which is not set'],
    [
      { REDIS_CLUSTER_NODES: '10.0.0.1:7000', REDIS_SENTINEL_PASSWORD: 's3cret' },
      'REDIS_SENTINEL_PASSWORD: only mean something with REDIS_SENTINELS, which is not set',
    ],
    [
      { REDIS_PASSWORD: 's3cret' },
      'REDIS_PASSWORD: only mean something with REDIS_SENTINELS or REDIS_CLUSTER_NODES; for one node, put credentials in REDIS_URL (rediss:// for TLS)',
    ],
    [{ HOST: '0.0.0.0' }, 'HOST: refusing to listen on 0.0.0.0 without WEBHOOK_TOKENS and ADMIN_TOKEN: set them, or keep HOST on loopback (127.0.0.1)'],
    [{ HOST: '::', WEBHOOK_TOKENS: 'a' }, 'HOST: refusing to listen on :: without ADMIN_TOKEN: set them, or keep HOST on loopback (127.0.0.1)'],
  ])('refuses %j with "%s"', (env, message) => {
    expect(() => loadConfig(env)).toThrowError(new ConfigError(message));
  });
});
