import { deserialize, serialize, ttlToMilliseconds } from './store.ts';
import type { Store, StoreWrite } from './store.ts';

export interface MemoryStoreOptions {
  /** Clock in epoch milliseconds; injectable so tests can move time. */
  now?: () => number;
  /** How often expired entries are swept out (they are also ignored lazily on read). */
  sweepIntervalMs?: number;
}

export interface MemoryStore extends Store {
  readonly kind: 'memory';
  /** What the process holds, expired-but-unswept entries included (for a memory gauge, and tests). */
  stats(): { keys: number; indexes: number; indexMembers: number };
  /** Members `index` holds, expired-but-not-yet-pruned ones included (what pruning keeps bounded). */
  indexSize(index: string): number;
}

interface Entry {
  text: string;
  expiresAt: number;
}

/**
 * In-process store for the embedded mode and for tests. Values are kept as JSON text, so callers
 * never share mutable objects, and behave like the Redis store (TTL, bounded indexes, CAS).
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const now = options.now ?? Date.now;
  const values = new Map<string, Entry>();
  // index -> member -> expiry (epoch ms), like the Redis sorted set scored by expiry.
  const indexes = new Map<string, Map<string, number>>();
  let closed = false;

  function live(key: string): Entry | undefined {
    const entry = values.get(key);
    if (entry && entry.expiresAt <= now()) {
      values.delete(key);
      return undefined;
    }
    return entry;
  }

  function pruneIndex(index: string, members: Map<string, number>, at: number): void {
    for (const [member, expiresAt] of members) {
      if (expiresAt <= at) members.delete(member);
    }
    if (members.size === 0) indexes.delete(index);
  }

  function sweep(): void {
    const at = now();
    for (const [key, entry] of values) {
      if (entry.expiresAt <= at) values.delete(key);
    }
    for (const [index, members] of indexes) pruneIndex(index, members, at);
  }

  function addToIndex(index: string, member: string, ttlMs: number): void {
    const at = now();
    let members = indexes.get(index);
    if (members) {
      pruneIndex(index, members, at);
    }
    if (!members || members.size === 0) {
      members = new Map();
      indexes.set(index, members);
    }
    members.set(member, at + ttlMs);
  }

  // unref'd: an idle timer must never keep the process (or a test run) alive.
  const sweeper = setInterval(sweep, options.sweepIntervalMs ?? 30_000);
  sweeper.unref();

  function assertOpen(): void {
    if (closed) throw new Error('Store is closed');
  }

  return {
    kind: 'memory',

    async get<T>(key: string): Promise<T | undefined> {
      assertOpen();
      return deserialize<T>(live(key)?.text);
    },

    async getMany<T>(keys: readonly string[]): Promise<(T | undefined)[]> {
      assertOpen();
      return keys.map((key) => deserialize<T>(live(key)?.text));
    },

    async set<T>(key: string, value: T, ttlSeconds: number): Promise<void> {
      assertOpen();
      const ttlMs = ttlToMilliseconds(ttlSeconds);
      values.set(key, { text: serialize(value), expiresAt: now() + ttlMs });
    },

    async delete(...keys: string[]): Promise<void> {
      assertOpen();
      for (const key of keys) {
        values.delete(key);
        indexes.delete(key);
      }
    },

    async compareAndSet<T>(key: string, expected: T | undefined, next: T, ttlSeconds: number): Promise<boolean> {
      assertOpen();
      const ttlMs = ttlToMilliseconds(ttlSeconds);
      const nextText = serialize(next);
      const current = live(key);
      // No await between the check and the write: single-threaded, so this is atomic.
      if (expected === undefined ? current !== undefined : current?.text !== serialize(expected)) return false;
      values.set(key, { text: nextText, expiresAt: now() + ttlMs });
      return true;
    },

    async indexAdd(index: string, member: string, ttlSeconds: number): Promise<void> {
      assertOpen();
      addToIndex(index, member, ttlToMilliseconds(ttlSeconds));
    },

    async writeMany(writes: readonly StoreWrite[]): Promise<void> {
      assertOpen();
      // Checked first, as the Redis store does: a bad write leaves every other one unapplied.
      const ready = writes.map((write) => ({ write, ttlMs: ttlToMilliseconds(write.ttlSeconds), text: write.op === 'set' ? serialize(write.value) : '' }));
      for (const { write, ttlMs, text } of ready) {
        if (write.op === 'set') values.set(write.key, { text, expiresAt: now() + ttlMs });
        else addToIndex(write.index, write.member, ttlMs);
      }
    },

    async indexRemove(index: string, ...members: string[]): Promise<void> {
      assertOpen();
      const set = indexes.get(index);
      if (!set) return;
      for (const member of members) set.delete(member);
      if (set.size === 0) indexes.delete(index);
    },

    async indexMembers(index: string): Promise<string[]> {
      assertOpen();
      const set = indexes.get(index);
      if (!set) return [];
      const at = now();
      return [...set].filter(([, expiresAt]) => expiresAt > at).map(([member]) => member);
    },

    async ping(): Promise<void> {
      assertOpen();
    },

    stats() {
      let indexMembers = 0;
      for (const members of indexes.values()) indexMembers += members.size;
      return { keys: values.size, indexes: indexes.size, indexMembers };
    },

    indexSize(index: string): number {
      return indexes.get(index)?.size ?? 0;
    },

    async close(): Promise<void> {
      closed = true;
      clearInterval(sweeper);
      values.clear();
      indexes.clear();
    },
  };
}
