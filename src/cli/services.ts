import { pino } from 'pino';
import type { Config } from '../config.ts';
import { createLogger } from '../logger.ts';
import { buildDependencies, type Dependencies } from '../dependencies.ts';

/**
 * The server's own services for one command (the same composition root, so the CLI behaves exactly as
 * the server does: revoking sessions also revokes OIDC grants). Logs go to stderr, warnings and up, so
 * stdout carries only the command's own output. Always closed afterwards.
 */
export async function withServices<T>(config: Config, work: (deps: Dependencies) => Promise<T>): Promise<T> {
  const verbose = config.logLevel === 'debug' || config.logLevel === 'trace';
  const logger = createLogger({ level: verbose ? config.logLevel : 'warn', destination: pino.destination(2) });
  const deps = await buildDependencies(config, logger);
  try {
    return await work(deps);
  } finally {
    await deps.close();
  }
}
