import type { Cluster, Redis } from 'ioredis';

/** One write of `writeMany`: a `set` or an `indexAdd`, with the same meaning as the single call. */
export type StoreWrite =
  | { op: 'set'; key: string; value: unknown; ttlSeconds: number }
  | { op: 'indexAdd'; index: string; member: string; ttlSeconds: number };

/**
 * The one store for sessions, grants and other short-lived state. Two implementations
 * (memory-store.ts, redis-store.ts) pass one contract suite (test/integration/store.contract.test.ts).
 *
 * Values are JSON: what comes back from `get` is a fresh copy, never an object another caller holds.
 * TTLs are in seconds and may be fractional; they must be finite and > 0.
 * Keys are used exactly as given: a caller that needs several keys in one Redis Cluster slot puts
 * the same hash tag in them (e.g. `session:{u:123}:abc`).
 */
export interface Store {
  readonly kind: 'memory' | 'redis' | 'cluster';
  /**
   * The ioredis client behind a Redis store, for code that needs Redis itself (rate-limiter-flexible).
   * Absent for the memory store. Its keyPrefix option is already set to the store's prefix.
   */
  readonly redis?: Redis | Cluster;

  get<T>(key: string): Promise<T | undefined>;
  /** One result per key, in order; `undefined` for absent keys. Keys may lie in different cluster slots. */
  getMany<T>(keys: readonly string[]): Promise<(T | undefined)[]>;
  set<T>(key: string, value: T, ttlSeconds: number): Promise<void>;
  /** Deletes every key given (absent ones are ignored); the keys may lie in different cluster slots. */
  delete(...keys: string[]): Promise<void>;
  /**
   * Atomically replaces the value of `key` by `next` (with a fresh TTL) if the stored value still
   * serialises to the same JSON as `expected`, or, when `expected` is `undefined`, only if `key` is
   * absent (set-if-absent). Returns false, changing nothing, otherwise. Pass back the very value a
   * `get` returned: comparison is by JSON text, so key order matters.
   */
  compareAndSet<T>(key: string, expected: T | undefined, next: T, ttlSeconds: number): Promise<boolean>;

  /**
   * Adds (or refreshes) `member` in the set `index`; the member expires `ttlSeconds` from now (the
   * latest add wins). Expired members are pruned on every add, so an index stays bounded by the
   * members added within one TTL; the index itself disappears when its last member expires.
   */
  indexAdd(index: string, member: string, ttlSeconds: number): Promise<void>;
  indexRemove(index: string, ...members: string[]): Promise<void>;
  /**
   * Applies several writes in one round trip where the store can (Redis: one pipeline, or one per
   * group of keys sharing a cluster slot, sent together). Each write means what its single call
   * means; together they are not atomic: after a rejection some may have been applied. Bad TTLs and
   * values are refused before anything is written.
   */
  writeMany(writes: readonly StoreWrite[]): Promise<void>;
  /** The unexpired members of `index`, in no promised order. */
  indexMembers(index: string): Promise<string[]>;

  /** Resolves when the store answers; rejects with ServiceUnavailableError otherwise. */
  ping(): Promise<void>;
  /** Releases connections and timers; the store is unusable afterwards. */
  close(): Promise<void>;
}

export function ttlToMilliseconds(ttlSeconds: number): number {
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError(`ttlSeconds must be a finite number > 0, got ${ttlSeconds}`);
  }
  return Math.max(1, Math.ceil(ttlSeconds * 1000));
}

/** JSON text of a value; `undefined` cannot be stored because it would not survive the round trip. */
export function serialize(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError('Store values must be JSON-serialisable (got undefined or a function)');
  return text;
}

export function deserialize<T>(text: string | null | undefined): T | undefined {
  return text === null || text === undefined ? undefined : (JSON.parse(text) as T);
}
