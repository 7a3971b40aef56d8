/**
 * The last line of defence: an exception nobody caught, or a promise rejection nobody handled. Request
 * input must never get here (every reader, listener and handler catches what it can cause); whatever
 * does is a bug that has left the process in an unknown state. So it is logged as one fatal line, with
 * its stack, and the process exits 1: a worker is replaced by its supervisor (src/cluster.ts), a single
 * process by whatever runs it (docker compose's `restart: unless-stopped`, systemd, Kubernetes).
 */
import type { Logger } from './logger.ts';

type ProcessEvents = Pick<NodeJS.Process, 'on'>;

export function exitOnUncaught(logger: Pick<Logger, 'fatal'>, options: { process?: ProcessEvents; exit?: (code: number) => void } = {}): void {
  const proc = options.process ?? process;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let exiting = false;
  const fail = (err: unknown, origin: string) => {
    if (exiting) return;
    exiting = true;
    try {
      logger.fatal({ err, origin }, `${origin}: exiting`);
    } finally {
      // pino writes what it buffered when the process exits.
      exit(1);
    }
  };
  proc.on('uncaughtException', (err, origin) => fail(err, origin));
  proc.on('unhandledRejection', (reason) => fail(reason, 'unhandledRejection'));
}
