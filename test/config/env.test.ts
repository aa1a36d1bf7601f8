import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/env.js';

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
    [{ ROLE: 'api', HOST: '0.0.0.0' }, 'HOST: refusing to listen on 0.0.0.0 without WEBHOOK_TOKENS and ADMIN_TOKEN: set them, or keep HOST on loopback (127.0.0.1)'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL: Invalid option: expected one of "fatal"|"error"|"warn"|"info"|"debug"|"trace"|"silent"'],
    [{ DEFAULT_SEVERITY: 'page' }, 'DEFAULT_SEVERITY: Invalid option: expected one of "critical"|"warning"|"info"'],
    [{ DELIVERY_TIMEOUT: '10 seconds' }, 'DELIVERY_TIMEOUT: expected a duration such as 10s or 5m, got "10 seconds"'],
    [{ JOB_LOCK_DURATION: '500ms' }, 'JOB_LOCK_DURATION: expected a duration of at least 1s, got "500ms"'],
    [{ SMTP_URL: 'mailto:ops@example.com' }, 'SMTP_URL: expected a smtp or smtps URL, got mailto://...'],
    [{ EMAIL_FROM: 'Maestro <alerts@maestro.example\r\nBcc: x@evil.example>' }, 'EMAIL_FROM: expected an email address, optionally with a display name: Name <address>'],
    [{ PAGERDUTY_SERVER: 'https://events.pagerduty.com' }, 'PAGERDUTY_SERVER: expected a host name such as events.pagerduty.com'],
    [{ REDIS_PREFIX: 'alert center' }, 'REDIS_PREFIX: expected letters, digits and {}:._- only'],
    [{ HOST: '0.0.0.0' }, 'HOST: refusing to listen on 0.0.0.0 without WEBHOOK_TOKENS and ADMIN_TOKEN: set them, or keep HOST on loopback (127.0.0.1)'],
    [{ HOST: '::', WEBHOOK_TOKENS: 'a' }, 'HOST: refusing to listen on :: without ADMIN_TOKEN: set them, or keep HOST on loopback (127.0.0.1)'],
  ])('refuses %j with "%s"', (env, message) => {
    expect(() => loadConfig(env)).toThrowError(new ConfigError(message));
  });
});
