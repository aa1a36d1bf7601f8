import { format } from 'node:util';
import { LogLevel, type Logger as SlackLogger } from '@slack/web-api';
import type { Logger } from '../../observability/logger.js';

/** The Slack client's own log lines go to our logger (not the console); pino's level decides. */
export function slackClientLogger(logger: Logger): SlackLogger {
  const write =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (...message: unknown[]) => {
      // The client logs several debug lines per call: format them only when they are written.
      if (logger.isLevelEnabled(level)) logger[level](format(...message));
    };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    setLevel: () => {},
    getLevel: () => LogLevel.DEBUG,
    setName: () => {},
  };
}
