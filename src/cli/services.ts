import { pino } from 'pino';
import type { Config } from '../config.ts';
import { createLogger, type Logger } from '../logger.ts';
import { buildCliDependencies, buildDependencies, type CliBuildOptions, type CliDependencies, type Dependencies } from '../dependencies.ts';

/** Logs go to stderr, warnings and up, so stdout carries only the command's own output. */
function commandLogger(config: Config): Logger {
  const verbose = config.logLevel === 'debug' || config.logLevel === 'trace';
  return createLogger({ level: verbose ? config.logLevel : 'warn', destination: pino.destination(2) });
}

/**
 * The server's own services for one command (the same composition root, so the CLI behaves exactly as
 * the server does: revoking sessions also revokes OIDC grants). Always closed afterwards.
 */
export async function withServices<T>(config: Config, work: (deps: Dependencies) => Promise<T>): Promise<T> {
  const deps = await buildDependencies(config, commandLogger(config));
  try {
    return await work(deps);
  } finally {
    await deps.close();
  }
}

/** The database-only part of the root (buildCliDependencies) for one command; always closed afterwards. */
export async function withCliServices<T>(config: Config, work: (deps: CliDependencies) => Promise<T>, options: CliBuildOptions = {}): Promise<T> {
  const deps = buildCliDependencies(config, commandLogger(config), options);
  try {
    return await work(deps);
  } finally {
    await deps.close();
  }
}
