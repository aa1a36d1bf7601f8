import { isIP } from 'node:net';
import { z } from 'zod';
import { type AlertmanagerTarget, parseAlertmanagerTarget } from '../alertmanager/client.js';
import { mailbox } from '../domain/email-address.js';
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

/** `host:port,host:port` (an IPv6 host in brackets: `[::1]:26379`). */
const addressList = z
  .string()
  .optional()
  .transform((value, ctx) => {
    const addresses: RedisAddress[] = [];
    for (const item of (value ?? '')
      .split(',')
      .map((token) => token.trim())
      .filter(Boolean)) {
      const match = /^(?:\[([0-9a-f:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/i.exec(item);
      const port = Number(match?.[3]);
      if (!match || port < 1 || port > 65535) {
        ctx.addIssue({ code: 'custom', message: `expected a comma-separated list of host:port, got "${item}"` });
        return z.NEVER;
      }
      addresses.push({ host: match[1] ?? match[2]!, port });
    }
    return addresses;
  });

const tokenList = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? '')
      .split(',')
      .map((token) => token.trim())
      .filter(Boolean),
  );

const alertmanagerList = z
  .string()
  .optional()
  .transform((value, ctx) => {
    const entries = (value ?? '')
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean);
    const targets: AlertmanagerTarget[] = [];
    for (const [i, entry] of entries.entries()) {
      try {
        targets.push(parseAlertmanagerTarget(entry));
      } catch (error) {
        // Never the entry itself: it may carry a password.
        const reason = error instanceof TypeError ? 'a malformed URL' : (error as Error).message;
        ctx.addIssue({ code: 'custom', message: `entry ${i + 1}: ${reason}` });
        return z.NEVER;
      }
    }
    return targets;
  });

const envSchema = z.object({
  ROLE: z.enum(['all', 'api', 'worker']).default('all'),
  PORT: integer(0, 65535, 8080),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  REDIS_URL: url(['redis', 'rediss']),
  REDIS_SENTINELS: addressList,
  REDIS_SENTINEL_NAME: optionalText,
  REDIS_SENTINEL_PASSWORD: optionalText,
  REDIS_CLUSTER_NODES: addressList,
  REDIS_USERNAME: optionalText,
  REDIS_PASSWORD: optionalText,
  REDIS_TLS: z.enum(['true', 'false']).default('false'),
  // The router puts its own hash tags around the prefix (src/queue/keys.ts): braces would break them.
  REDIS_PREFIX: z
    .string()
    .trim()
    .regex(/^[\w:.-]+$/, 'expected letters, digits and :._- only (the router adds its own {hash tags})')
    .default('alertcenter'),
  REDIS_MIN_REPLICAS_ACK: integer(0, 16, 0),
  REDIS_REPLICA_ACK_TIMEOUT: durationMs('1s'),
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
  // The weekly SLO report (src/report/).
  PROMETHEUS_URL: url(['http', 'https']),
  PROMETHEUS_BEARER_TOKEN: optionalText,
  PROMETHEUS_TIMEOUT: durationMs('30s'),
  REPORT_TIME_ZONE: z.string().trim().default('UTC').refine(isTimeZone, 'expected an IANA time zone such as Europe/Paris or UTC'),
  REPORT_SCHEDULE: z
    .string()
    .trim()
    .default('0 8 * * 1')
    .refine((text) => /^(\S+\s+){4,5}\S+$/.test(text), 'expected a cron pattern such as "0 8 * * 1" (Monday 08:00)'),
  REPORT_EMAIL_TO: tokenList.refine((list) => list.every((address) => mailbox.safeParse(address).success), 'expected comma-separated email addresses'),
  REPORT_ATTEMPTS: integer(1, 20, 4),
  REPORT_RETRY_DELAY: durationMs('5m'),
  VIEWER_TOKENS: tokenList,
  SESSION_TTL: durationMs('12h', '1m'),
  COOKIE_SECURE: z.enum(['auto', 'always', 'never']).default('auto'),
  SLACK_WORKSPACE_URL: url(['https', 'http']),
  PAGERDUTY_SERVER: z
    .string()
    .trim()
    .regex(/^[a-z0-9.-]+(:\d+)?$/i, 'expected a host name such as events.pagerduty.com')
    .default('events.pagerduty.com'),
  PUBLIC_URL: url(['http', 'https']),
  SLACK_SIGNING_SECRETS: tokenList,
  PAGERDUTY_WEBHOOK_SECRETS: tokenList,
  ALERTMANAGER_URLS: alertmanagerList,
  ALERTMANAGER_TIMEOUT: durationMs('5s'),
  ALERTMANAGER_CHECK_INTERVAL: durationMs('1m', '1s'),
});

type Env = z.infer<typeof envSchema>;

export interface RedisAddress {
  host: string;
  port: number;
}

/**
 * Where Redis is: one node (REDIS_URL), a master found through Sentinel (REDIS_SENTINELS), or a
 * Cluster (REDIS_CLUSTER_NODES). Credentials of the Sentinel and Cluster nodes come from
 * REDIS_USERNAME and REDIS_PASSWORD; a single node's are in its URL.
 */
export type RedisTopology =
  | { kind: 'single'; url: string }
  | {
      kind: 'sentinel';
      sentinels: RedisAddress[];
      name: string;
      sentinelPassword: string | undefined;
      username: string | undefined;
      password: string | undefined;
      tls: boolean;
    }
  | { kind: 'cluster'; nodes: RedisAddress[]; username: string | undefined; password: string | undefined; tls: boolean };

export interface RedisSettings {
  topology: RedisTopology;
  /**
   * REDIS_MIN_REPLICAS_ACK: replicas that must hold a webhook (Redis's WAIT) before it is answered
   * 202; 0 answers once the master has it. REDIS_REPLICA_ACK_TIMEOUT: how long to wait for them.
   */
  minReplicasAck: number;
  replicaAckTimeoutMs: number;
}

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
  /** The single node's URL (REDIS_URL); on Sentinel and Cluster, see `redis.topology`. */
  redisUrl: string;
  redis: RedisSettings;
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
  /** On-call actions: Slack buttons, PagerDuty's webhooks, silences. */
  actions: {
    /** The router's external URL (links to the AlertCenter page); undefined when not set. */
    publicUrl: string | undefined;
    slackSigningSecrets: string[];
    pagerdutyWebhookSecrets: string[];
    alertmanagers: AlertmanagerTarget[];
    alertmanagerTimeoutMs: number;
    /** How often a silenced incident's alerts are looked up in Alertmanager. */
    silenceCheckIntervalMs: number;
  };
  /** Where the weekly SLO report reads its figures (optional: without it the report has incidents only). */
  prometheus: { url: string | undefined; bearerToken: string | undefined; timeoutMs: number };
  /** The weekly SLO report's mail: a cron pattern in a time zone, its recipients (none: no mail), Prometheus attempts before mailing without it. */
  report: { timeZone: string; schedule: string; emailTo: string[]; attempts: number; retryDelayMs: number };
  /** The AlertCenter page (src/ui): read-only sign-in tokens, sessions, links (Prometheus: `prometheus`). */
  ui: {
    viewerTokens: string[];
    sessionTtlMs: number;
    /** auto: Secure when the request came over TLS (itself, or X-Forwarded-Proto: https from a proxy). */
    cookieSecure: 'auto' | 'always' | 'never';
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

function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** Validates the environment into a Config, or throws a one-line ConfigError naming the setting. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const result = envSchema.safeParse(env);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ConfigError(`${String(issue.path[0])}: ${issue.message}`);
  }
  const e = result.data;
  const unauthenticated = [e.WEBHOOK_TOKENS.length === 0 && 'WEBHOOK_TOKENS', e.ADMIN_TOKEN === undefined && 'ADMIN_TOKEN'].filter(Boolean);
  // A worker serves only health and metrics: no webhook or admin API to leave open.
  if (e.ROLE !== 'worker' && !isLoopback(e.HOST) && unauthenticated.length > 0) {
    throw new ConfigError(`HOST: refusing to listen on ${e.HOST} without ${unauthenticated.join(' and ')}: set them, or keep HOST on loopback (127.0.0.1)`);
  }
  const redis = redisSettings(e);
  return {
    role: e.ROLE,
    port: e.PORT,
    host: e.HOST,
    redisUrl: redis.topology.kind === 'single' ? redis.topology.url : '',
    redis,
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
    actions: {
      publicUrl: e.PUBLIC_URL?.replace(/\/+$/, ''),
      slackSigningSecrets: e.SLACK_SIGNING_SECRETS,
      pagerdutyWebhookSecrets: e.PAGERDUTY_WEBHOOK_SECRETS,
      alertmanagers: e.ALERTMANAGER_URLS,
      alertmanagerTimeoutMs: e.ALERTMANAGER_TIMEOUT,
      silenceCheckIntervalMs: e.ALERTMANAGER_CHECK_INTERVAL,
    },
    prometheus: { url: e.PROMETHEUS_URL, bearerToken: e.PROMETHEUS_BEARER_TOKEN, timeoutMs: e.PROMETHEUS_TIMEOUT },
    report: {
      timeZone: e.REPORT_TIME_ZONE,
      schedule: e.REPORT_SCHEDULE,
      emailTo: e.REPORT_EMAIL_TO,
      attempts: e.REPORT_ATTEMPTS,
      retryDelayMs: e.REPORT_RETRY_DELAY,
    },
    ui: {
      viewerTokens: e.VIEWER_TOKENS,
      sessionTtlMs: e.SESSION_TTL,
      cookieSecure: e.COOKIE_SECURE,
      slackWorkspaceUrl: e.SLACK_WORKSPACE_URL,
    },
    env,
  };
}

/** The one Redis set-up the settings describe; settings of two set-ups, or half of one, are refused. */
function redisSettings(e: Env): RedisSettings {
  const ha = { minReplicasAck: e.REDIS_MIN_REPLICAS_ACK, replicaAckTimeoutMs: e.REDIS_REPLICA_ACK_TIMEOUT };
  const given = (names: Array<keyof Env>) =>
    names.filter((name) => {
      const value = e[name];
      return Array.isArray(value) ? value.length > 0 : value !== undefined;
    });
  const sentinel = e.REDIS_SENTINELS.length > 0;
  const cluster = e.REDIS_CLUSTER_NODES.length > 0;
  const contradiction = (names: string[], why: string) => new ConfigError(`${names.join(', ')}: ${why}`);
  if (sentinel && cluster) throw contradiction(['REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'], 'set one Redis set-up, not both');
  if (sentinel || cluster) {
    const set = sentinel ? 'REDIS_SENTINELS' : 'REDIS_CLUSTER_NODES';
    if (e.REDIS_URL !== undefined)
      throw contradiction(['REDIS_URL', set], 'set one Redis set-up, not both (credentials go in REDIS_USERNAME and REDIS_PASSWORD)');
  }
  if (sentinel) {
    if (e.REDIS_SENTINEL_NAME === undefined)
      throw contradiction(['REDIS_SENTINEL_NAME'], 'required with REDIS_SENTINELS: the name of the master the sentinels monitor');
    return {
      topology: {
        kind: 'sentinel',
        sentinels: e.REDIS_SENTINELS,
        name: e.REDIS_SENTINEL_NAME,
        sentinelPassword: e.REDIS_SENTINEL_PASSWORD,
        username: e.REDIS_USERNAME,
        password: e.REDIS_PASSWORD,
        tls: e.REDIS_TLS === 'true',
      },
      ...ha,
    };
  }
  const sentinelOnly = given(['REDIS_SENTINEL_NAME', 'REDIS_SENTINEL_PASSWORD']);
  if (sentinelOnly.length > 0) throw contradiction(sentinelOnly, 'only mean something with REDIS_SENTINELS, which is not set');
  if (cluster) {
    if (e.REDIS_CLUSTER_NODES.length < 1) throw contradiction(['REDIS_CLUSTER_NODES'], 'expected at least one node');
    return {
      topology: { kind: 'cluster', nodes: e.REDIS_CLUSTER_NODES, username: e.REDIS_USERNAME, password: e.REDIS_PASSWORD, tls: e.REDIS_TLS === 'true' },
      ...ha,
    };
  }
  const haOnly = given(['REDIS_USERNAME', 'REDIS_PASSWORD']).concat(e.REDIS_TLS === 'true' ? ['REDIS_TLS'] : []);
  if (haOnly.length > 0) {
    throw contradiction(
      haOnly,
      'only mean something with REDIS_SENTINELS or REDIS_CLUSTER_NODES; for one node, put credentials in REDIS_URL (rediss:// for TLS)',
    );
  }
  return { topology: { kind: 'single', url: e.REDIS_URL ?? 'redis://127.0.0.1:6379' }, ...ha };
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
    ...urlSecrets(config.redisUrl || undefined),
    ...redisSecrets(config.redis.topology),
    ...config.actions.slackSigningSecrets,
    ...config.actions.pagerdutyWebhookSecrets,
    ...config.actions.alertmanagers.flatMap((target) => target.secrets),
    config.prometheus.bearerToken,
    ...urlSecrets(config.prometheus.url),
  ].filter((value): value is string => Boolean(value));
}

function redisSecrets(topology: RedisTopology): Array<string | undefined> {
  if (topology.kind === 'single') return [];
  return [topology.password, topology.kind === 'sentinel' ? topology.sentinelPassword : undefined];
}
