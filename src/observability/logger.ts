import { pino, type Logger, type DestinationStream } from 'pino';

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

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'alertcenter-router' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
