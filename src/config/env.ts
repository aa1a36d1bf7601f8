import { isIP } from 'node:net';
import { z } from 'zod';
import { mailbox } from '../notifiers/email/address.js';
import { parseDuration } from './duration.js';

/** One line naming the setting, so a bad deployment says exactly what to fix. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

const integer = (min: number, max: number, fallback: number) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === '') return fallback;
      const number = Number(value);
      if (!Number.isInteger(number) || number < min || number > max) {
        ctx.addIssue({ code: 'custom', message: `expected an integer from ${min} to ${max}, got "${value}"` });
        return z.NEVER;
      }
      return number;
    });

const durationMs = (fallback: string, minimum?: string) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      const ms = parseDuration(value?.trim() || fallback);
      if (ms === null || ms <= 0) {
        ctx.addIssue({ code: 'custom', message: `expected a duration such as 10s or 5m, got "${value}"` });
        return z.NEVER;
      }
      if (minimum !== undefined && ms < parseDuration(minimum)!) {
        ctx.addIssue({ code: 'custom', message: `expected a duration of at least ${minimum}, got "${value}"` });
        return z.NEVER;
      }
      return ms;
    });

const url = (protocols: string[], fallback?: string) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      const text = value?.trim() || fallback;
      if (text === undefined) return undefined;
      let parsed: URL;
      try {
        parsed = new URL(text);
      } catch {
        ctx.addIssue({ code: 'custom', message: `expected a ${protocols.join(' or ')} URL, got a malformed one` });
        return z.NEVER;
      }
      if (!protocols.includes(parsed.protocol.slice(0, -1))) {
        ctx.addIssue({ code: 'custom', message: `expected a ${protocols.join(' or ')} URL, got ${parsed.protocol}//...` });
        return z.NEVER;
      }
      return text;
    });

const tokenList = z
  .string()
  .optional()
  .transform((value) => (value ?? '').split(',').map((token) => token.trim()).filter(Boolean));

const envSchema = z.object({
  ROLE: z.enum(['all', 'api', 'worker']).default('all'),
  PORT: integer(0, 65535, 8080),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  REDIS_URL: url(['redis', 'rediss'], 'redis://127.0.0.1:6379'),
  REDIS_PREFIX: z.string().trim().regex(/^[\w{}:.-]+$/, 'expected letters, digits and {}:._- only').default('alertcenter'),
  WEBHOOK_TOKENS: tokenList,
  ADMIN_TOKEN: optionalText,
  MAX_BODY_BYTES: integer(1024, 64 * 1024 * 1024, 1024 * 1024),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ROUTING_FILE: z.string().trim().min(1).default('routing/routes.yaml'),
  SLO_CATALOG_FILE: z.string().trim().min(1).default('routing/slos.yaml'),
  DEFAULT_SEVERITY: z.enum(['critical', 'warning', 'info']).default('warning'),
  REQUEST_TIMEOUT: durationMs('30s'),
  HEADERS_TIMEOUT: durationMs('10s'),
  SHUTDOWN_TIMEOUT: durationMs('25s'),
  DELIVERY_ATTEMPTS: integer(1, 100, 12),
  DELIVERY_BACKOFF: durationMs('2s'),
  DELIVERY_TIMEOUT: durationMs('10s'),
  DELIVERY_CONCURRENCY: integer(1, 1000, 16),
  // Shorter, and a busy router's own running jobs could be taken for a crashed router's.
  JOB_LOCK_DURATION: durationMs('30s', '1s'),
  SLACK_BOT_TOKEN: optionalText,
  SLACK_API_URL: url(['http', 'https'], 'https://slack.com/api/'),
  SMTP_URL: url(['smtp', 'smtps']),
  EMAIL_FROM: mailbox.default('Maestro AlertCenter <alertcenter@maestro.example>'),
  PAGERDUTY_ROUTING_KEY: optionalText,
  VIEWER_TOKENS: tokenList,
  SESSION_TTL: durationMs('12h', '1m'),
  COOKIE_SECURE: z.enum(['auto', 'always', 'never']).default('auto'),
  PROMETHEUS_URL: url(['http', 'https']),
  SLACK_WORKSPACE_URL: url(['https', 'http']),
  PAGERDUTY_SERVER: z
    .string()
    .trim()
    .regex(/^[a-z0-9.-]+(:\d+)?$/i, 'expected a host name such as events.pagerduty.com')
    .default('events.pagerduty.com'),
});

type Env = z.infer<typeof envSchema>;

/**
 * What a process runs: `api` takes webhooks and serves the AlertCenter API, `worker` normalizes,
 * routes and delivers; `all` is both in one process. Separate processes keep the webhook's event
 * loop free of delivery work in an alert storm; every role serves /healthz, /readyz and /metrics.
 */
export type Role = Env['ROLE'];

export interface Config {
  role: Role;
  port: number;
  host: string;
  redisUrl: string;
  redisPrefix: string;
  webhookTokens: string[];
  adminToken: string | undefined;
  maxBodyBytes: number;
  logLevel: Env['LOG_LEVEL'];
  routingFile: string;
  sloCatalogFile: string;
  defaultSeverity: Env['DEFAULT_SEVERITY'];
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  shutdownTimeoutMs: number;
  delivery: { attempts: number; backoffMs: number; timeoutMs: number; concurrency: number };
  /**
   * How long a queue job stays claimed by a router that stopped renewing its lock (a crashed
   * replica) before another router runs it again; routers look for such jobs as often.
   */
  jobLockMs: number;
  channels: {
    slack: { botToken: string | undefined; apiUrl: string };
    email: { smtpUrl: string | undefined; from: string };
    pagerduty: { routingKey: string | undefined; server: string };
  };
  /** The AlertCenter page (src/ui): read-only sign-in tokens, sessions, Prometheus for SLO figures, links. */
  ui: {
    viewerTokens: string[];
    sessionTtlMs: number;
    /** auto: Secure when the request came over TLS (itself, or X-Forwarded-Proto: https from a proxy). */
    cookieSecure: 'auto' | 'always' | 'never';
    prometheusUrl: string | undefined;
    slackWorkspaceUrl: string | undefined;
  };
  /** The environment that routing files may interpolate with ${VAR}. */
  env: Record<string, string | undefined>;
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/** Validates the environment into a Config, or throws a one-line ConfigError naming the setting. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const result = envSchema.safeParse(env);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ConfigError(`${String(issue.path[0])}: ${issue.message}`);
  }
  const e = result.data;
  const unauthenticated = [
    e.WEBHOOK_TOKENS.length === 0 && 'WEBHOOK_TOKENS',
    e.ADMIN_TOKEN === undefined && 'ADMIN_TOKEN',
  ].filter(Boolean);
  // A worker serves only health and metrics: no webhook or admin API to leave open.
  if (e.ROLE !== 'worker' && !isLoopback(e.HOST) && unauthenticated.length > 0) {
    throw new ConfigError(
      `HOST: refusing to listen on ${e.HOST} without ${unauthenticated.join(' and ')}: set them, or keep HOST on loopback (127.0.0.1)`,
    );
  }
  return {
    role: e.ROLE,
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL!,
    redisPrefix: e.REDIS_PREFIX,
    webhookTokens: e.WEBHOOK_TOKENS,
    adminToken: e.ADMIN_TOKEN,
    maxBodyBytes: e.MAX_BODY_BYTES,
    logLevel: e.LOG_LEVEL,
    routingFile: e.ROUTING_FILE,
    sloCatalogFile: e.SLO_CATALOG_FILE,
    defaultSeverity: e.DEFAULT_SEVERITY,
    requestTimeoutMs: e.REQUEST_TIMEOUT,
    headersTimeoutMs: e.HEADERS_TIMEOUT,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT,
    delivery: {
      attempts: e.DELIVERY_ATTEMPTS,
      backoffMs: e.DELIVERY_BACKOFF,
      timeoutMs: e.DELIVERY_TIMEOUT,
      concurrency: e.DELIVERY_CONCURRENCY,
    },
    jobLockMs: e.JOB_LOCK_DURATION,
    channels: {
      slack: { botToken: e.SLACK_BOT_TOKEN, apiUrl: e.SLACK_API_URL! },
      email: { smtpUrl: e.SMTP_URL, from: e.EMAIL_FROM },
      pagerduty: { routingKey: e.PAGERDUTY_ROUTING_KEY, server: e.PAGERDUTY_SERVER },
    },
    ui: {
      viewerTokens: e.VIEWER_TOKENS,
      sessionTtlMs: e.SESSION_TTL,
      cookieSecure: e.COOKIE_SECURE,
      prometheusUrl: e.PROMETHEUS_URL,
      slackWorkspaceUrl: e.SLACK_WORKSPACE_URL,
    },
    env,
  };
}

/** Every credential in the config, for the logger to scrub by value. */
export function secretsOf(config: Config): string[] {
  const urlSecrets = (text: string | undefined) => {
    if (!text) return [];
    const url = new URL(text);
    return [decodeURIComponent(url.password), url.password];
  };
  return [
    ...config.webhookTokens,
    config.adminToken,
    ...config.ui.viewerTokens,
    config.channels.slack.botToken,
    config.channels.pagerduty.routingKey,
    ...urlSecrets(config.channels.email.smtpUrl),
    ...urlSecrets(config.redisUrl),
    ...urlSecrets(config.ui.prometheusUrl),
  ].filter((value): value is string => Boolean(value));
}
