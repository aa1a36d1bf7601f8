import { existsSync } from 'node:fs';
import { type Config, ConfigError, loadConfig, secretsOf } from './config/env.js';
import { createLogger, secretSet } from './observability/logger.js';
import { type RunningRouter, startRouter } from './server.js';

/** Process entry: config from the environment, signals, exit codes. */
async function main(): Promise<void> {
  // .env in the working directory, when present (see .env.example); variables set in the real environment win.
  if (existsSync('.env')) process.loadEnvFile('.env');
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`alertcenter: invalid configuration: ${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const logger = createLogger(config.logLevel, undefined, secretSet(secretsOf(config)));

  let router: RunningRouter;
  try {
    router = await startRouter(config, logger);
  } catch (error) {
    // A bad routing file or catalog, or a port in use: one line, nothing half-started.
    process.stderr.write(`alertcenter: cannot start: ${(error as Error).message}\n`);
    process.exit(1);
  }

  process.on('SIGHUP', () => router.reloadRouting());
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      const deadline = setTimeout(() => {
        logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown took too long; exiting');
        process.exit(1);
      }, config.shutdownTimeoutMs);
      deadline.unref();
      router.stop().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}

await main();
