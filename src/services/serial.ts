/**
 * A promise chain that runs tasks one at a time, in order. Used for SQLite write transactions: the
 * embedded database has one writer anyway, and queuing in JavaScript keeps waiting transactions from
 * each holding a libuv worker thread in SQLite's busy-wait (which starves the one holding the lock).
 */
export function createSerialQueue() {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    run<T>(task: () => Promise<T>): Promise<T> {
      const result = tail.then(task, task);
      tail = result.catch(() => undefined);
      return result;
    },
  };
}

export type SerialQueue = ReturnType<typeof createSerialQueue>;
