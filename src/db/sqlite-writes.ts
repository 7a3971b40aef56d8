/**
 * One writer at a time for SQLite, queued in JavaScript.
 *
 * SQLite lets one connection write at a time; Sequelize opens a connection per transaction, and a
 * connection waiting for the write lock busy-waits inside a libuv worker thread. Four such waiters
 * (libuv has four threads) leave no thread for the holder's COMMIT: every writer stalls until the
 * busy timeout and then fails with SQLITE_BUSY. So every write — each managed or unmanaged
 * transaction for its whole life, each write statement outside a transaction — waits its turn here,
 * where waiting costs no thread. Reads are not queued (WAL lets them run beside the writer).
 *
 * The queue is re-entrant within a transaction's callback: a query made there without passing the
 * transaction runs as it always did instead of waiting for the transaction it is part of.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { QueryTypes } from 'sequelize';
import type { Sequelize, Transaction, TransactionOptions } from 'sequelize';

/** Longer than the busy timeout: a write that waited this long is answered like a busy database. */
const QUEUE_TIMEOUT_MS = 15_000;

const READ_TYPES = new Set<string>([QueryTypes.SELECT, QueryTypes.SHOWTABLES, QueryTypes.SHOWINDEXES, QueryTypes.DESCRIBE, QueryTypes.FOREIGNKEYS]);
const READ_SQL = /^\s*(SELECT|PRAGMA|EXPLAIN)\b/i;

interface QueryOptions {
  type?: string;
  transaction?: unknown;
}

class QueueTimeoutError extends Error {
  readonly code = 'SQLITE_BUSY';
  constructor(waitedMs: number) {
    super(`SQLITE_BUSY: waited ${waitedMs} ms for the write queue`);
    this.name = 'QueueTimeoutError';
  }
}

function isRead(sql: unknown, options: QueryOptions | undefined): boolean {
  if (options?.type) return READ_TYPES.has(options.type);
  const text = typeof sql === 'string' ? sql : (sql as { query?: unknown } | null)?.query;
  return typeof text === 'string' && READ_SQL.test(text);
}

export function createWriteQueue(timeoutMs = QUEUE_TIMEOUT_MS) {
  const inside = new AsyncLocalStorage<boolean>();
  let tail: Promise<void> = Promise.resolve();

  /** Runs `task` when every write queued before it has finished. */
  function exclusive<T>(task: () => Promise<T>): Promise<T> {
    if (inside.getStore()) return task();
    return new Promise<T>((resolve, reject) => {
      let state: 'waiting' | 'running' | 'abandoned' = 'waiting';
      // The timeout only applies to waiting: once started, a task runs to its end.
      const timer = setTimeout(() => {
        if (state !== 'waiting') return;
        state = 'abandoned';
        reject(new QueueTimeoutError(timeoutMs));
      }, timeoutMs);
      tail = tail.then(async () => {
        clearTimeout(timer);
        if (state === 'abandoned') return;
        state = 'running';
        try {
          resolve(await inside.run(true, task));
        } catch (err) {
          reject(err);
        }
      });
    });
  }

  return { exclusive };
}

type QueryFn = (sql: unknown, options?: QueryOptions) => Promise<unknown>;
type TransactionFn = (options?: TransactionOptions | ((t: Transaction) => PromiseLike<unknown>), task?: (t: Transaction) => PromiseLike<unknown>) => Promise<unknown>;

/** Routes every write of `sequelize` (an SQLite instance) through one queue. Call once, before use. */
export function serializeSqliteWrites(sequelize: Sequelize): void {
  const queue = createWriteQueue();
  const target = sequelize as unknown as { query: QueryFn; transaction: TransactionFn };
  const query = target.query.bind(sequelize);
  const transaction = target.transaction.bind(sequelize);

  target.query = (sql, options) => (options?.transaction || isRead(sql, options) ? query(sql, options) : queue.exclusive(() => query(sql, options)));

  target.transaction = (optionsOrTask, maybeTask) => {
    const task = typeof optionsOrTask === 'function' ? optionsOrTask : maybeTask;
    const options = typeof optionsOrTask === 'function' ? undefined : optionsOrTask;
    if (task) return queue.exclusive(() => transaction(options, task));
    // Unmanaged: the queue is held from BEGIN until the caller commits or rolls back.
    return new Promise<Transaction>((resolve, reject) => {
      queue
        .exclusive(async () => {
          const opened = (await transaction(options)) as Transaction;
          const ended = new Promise<void>((release) => {
            for (const method of ['commit', 'rollback'] as const) {
              const end = opened[method].bind(opened);
              opened[method] = () => end().finally(release);
            }
          });
          resolve(opened);
          await ended;
        })
        .catch(reject);
    });
  };
}
