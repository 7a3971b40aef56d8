/**
 * Counts the requests being handled. A handler may run on after its client has gone (a login waiting for
 * its hash), so a closed server is not yet a quiet one: shutdown waits for idle() before it closes the
 * database and the store under them.
 */
export function createInFlight() {
  let count = 0;
  let waiters: (() => void)[] = [];
  const settle = () => {
    if (count > 0) return;
    const done = waiters;
    waiters = [];
    for (const resolve of done) resolve();
  };
  return {
    /** A request has started (the front calls it first). */
    enter(): void {
      count += 1;
    },
    /** A request is done, whether it succeeded or threw. */
    leave(): void {
      count -= 1;
      settle();
    },
    count: (): number => count,
    /** Resolves once no request is being handled (at once if none is). */
    idle(): Promise<void> {
      if (count === 0) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}

export type InFlight = ReturnType<typeof createInFlight>;
