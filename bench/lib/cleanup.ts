/**
 * What a bench run started (servers, a Redis, a database) is undone on every way out: normal end,
 * an error, Ctrl-C. Cleanups run newest first, each at most once.
 */
type Cleanup = () => Promise<void> | void;

const cleanups: Cleanup[] = [];
let running: Promise<void> | undefined;

/** Registers `cleanup`; the returned function unregisters it (when the caller has already cleaned up). */
export function onCleanup(cleanup: Cleanup): () => void {
  cleanups.push(cleanup);
  return () => {
    const at = cleanups.indexOf(cleanup);
    if (at !== -1) cleanups.splice(at, 1);
  };
}

export function cleanupAll(): Promise<void> {
  running ??= (async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (err) {
        console.error(`cleanup failed: ${(err as Error).message}`);
      }
    }
  })();
  return running;
}

/** Ctrl-C or a kill: clean up, then leave with the conventional exit code. */
export function cleanupOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping what the bench started…`);
      void cleanupAll().finally(() => process.exit(130));
    });
  }
}
