export interface StoreLogger {
  warn(obj: object, msg: string): void;
  info?(obj: object, msg: string): void;
}

/**
 * ioredis reports every failed reconnect attempt (about one a second during an outage). Log the first
 * and then at most one line per interval, with how many were left out, and one line on recovery.
 */
export function createErrorLog(logger: StoreLogger | undefined, intervalMs = 10_000, now: () => number = Date.now) {
  let lastLoggedAt = -Infinity;
  let suppressed = 0;
  let failing = false;

  return {
    error(error: Error, node?: string): void {
      failing = true;
      const at = now();
      if (at - lastLoggedAt < intervalMs) {
        suppressed += 1;
        return;
      }
      const code = (error as Error & { code?: unknown }).code;
      // Message and code only: the error object may reference connection options holding the password.
      logger?.warn({ err: { message: error.message, code }, node, suppressed }, 'store: Redis connection error');
      lastLoggedAt = at;
      suppressed = 0;
    },
    recovered(): void {
      if (!failing) return;
      failing = false;
      lastLoggedAt = -Infinity;
      (logger?.info ?? logger?.warn)?.call(logger, { suppressed }, 'store: Redis connection ready again');
      suppressed = 0;
    },
  };
}
