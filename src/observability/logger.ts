import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

/**
 * Paths whose values never reach a log line. Credentials also hide inside URLs
 * (smtp://user:pass@host), so those fields are redacted whole.
 */
export const REDACTED_PATHS = [
  'token',
  '*.token',
  'password',
  '*.password',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'headers.authorization',
  'routingKey',
  '*.routingKey',
  'routing_key',
  '*.routing_key',
  'smtpUrl',
  '*.smtpUrl',
  'redisUrl',
  '*.redisUrl',
  'webhookTokens',
  '*.webhookTokens',
  'adminToken',
  '*.adminToken',
  'slackBotToken',
  '*.slackBotToken',
  'pagerdutyRoutingKey',
  '*.pagerdutyRoutingKey',
];

/**
 * Key-based redaction misses a secret logged under another name (inside a URL, an error message,
 * a nested config): as a backstop, every line is scrubbed of the configured secret values.
 */
class ScrubbingStream implements DestinationStream {
  constructor(
    private readonly destination: DestinationStream,
    private readonly secrets: ReadonlySet<string>,
  ) {}

  write(line: string): void {
    for (const secret of this.secrets) {
      if (line.includes(secret)) line = line.split(secret).join('[redacted]');
    }
    this.destination.write(line);
  }
}

/** Secrets shorter than this are not scrubbed by value: they would mangle ordinary words. */
const MIN_SCRUBBED_LENGTH = 4;

export function createLogger(level: string, destination: DestinationStream = pino.destination(1), secrets: ReadonlySet<string> = new Set()): Logger {
  return pino(
    {
      level,
      base: { service: 'alertcenter-router' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    new ScrubbingStream(destination, secrets),
  );
}

/** The set to scrub, with the JSON-escaped form of each secret (that is how it appears in a line). */
export function secretSet(values: Iterable<string | undefined>): Set<string> {
  const set = new Set<string>();
  for (const value of values) {
    if (!value || value.length < MIN_SCRUBBED_LENGTH) continue;
    set.add(value);
    set.add(JSON.stringify(value).slice(1, -1));
  }
  return set;
}
