import { Cluster, Redis } from 'ioredis';
import type { ClusterOptions, RedisOptions } from 'ioredis';
import { ServiceUnavailableError } from '../errors.ts';
import { deserialize, serialize, ttlToMilliseconds } from './store.ts';
import type { Store, StoreWrite } from './store.ts';
import { CAS_SCRIPT, INDEX_ADD_SCRIPT, INDEX_MEMBERS_SCRIPT } from './redis-scripts.ts';
import { createErrorLog } from './redis-error-log.ts';
import type { StoreLogger } from './redis-error-log.ts';
import { groupByHashTag, hashTag } from './hash-tags.ts';

export type { StoreLogger } from './redis-error-log.ts';

export interface RedisStoreOptions {
  /** `redis://` or `rediss://` URL of a single node. With `clusterNodes`, only its credentials and TLS are used. */
  url?: string;
  /** Seeds of a Redis Cluster, `host:port`; when non-empty the store is a cluster store. */
  clusterNodes?: string[];
  /** Prepended to every key (ioredis keyPrefix, so it also applies to Lua KEYS and to `store.redis`). */
  keyPrefix?: string;
  logger?: StoreLogger;
  /** A command that got no answer within this time fails (half-open connections, overload). Default 2000. */
  commandTimeoutMs?: number;
  /** Default 3000. */
  connectTimeoutMs?: number;
}

export interface RedisStore extends Store {
  readonly kind: 'redis' | 'cluster';
  readonly redis: Redis | Cluster;
  /**
   * Connects and waits until Redis is ready; rejects with ServiceUnavailableError if the first attempt
   * fails (the client keeps reconnecting in the background either way). Call once at start-up.
   */
  connect(): Promise<void>;
}

/** The Lua scripts registered with defineCommand; ioredis adds these methods at run time. */
interface ScriptCommands {
  storeCompareAndSet(key: string, expected: string, next: string, ttlMs: number): Promise<number>;
  storeIndexAdd(index: string, member: string, ttlMs: number): Promise<number>;
  storeIndexMembers(index: string): Promise<string[]>;
}

// Replies meaning "the server is there but cannot serve now": as much an outage as a refused connection.
const UNAVAILABLE_REPLY = /^(CLUSTERDOWN|LOADING|MASTERDOWN|TRYAGAIN|READONLY|BUSY|NOREPLICAS)\b/;
const MAX_KEYS_PER_COMMAND = 1000;

/**
 * Connectivity failures (closed stream, timeout, cluster down, ...) become ServiceUnavailableError,
 * which the doors render as 503. Other Redis replies (WRONGTYPE, syntax) are bugs and pass unchanged.
 */
function toStoreError(error: unknown): unknown {
  if (error instanceof ServiceUnavailableError) return error;
  if (error instanceof Error && error.name === 'ReplyError' && !UNAVAILABLE_REPLY.test(error.message)) return error;
  return new ServiceUnavailableError('store', error);
}

async function guarded<T>(operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (error) {
    throw toStoreError(error);
  }
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

// Capped backoff, never giving up: the store must come back by itself when Redis does.
const reconnectDelay = (attempt: number): number => Math.min(100 * attempt, 1000);

function parseNode(node: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(node.trim());
  if (!match?.[1] || !match[2]) throw new TypeError(`Bad Redis Cluster node "${node}", expected host:port`);
  return { host: match[1], port: Number(match[2]) };
}

function credentialsFrom(url: string | undefined): Partial<RedisOptions> {
  if (!url) return {};
  const parsed = new URL(url);
  const options: Partial<RedisOptions> = {};
  if (parsed.username) options.username = decodeURIComponent(parsed.username);
  if (parsed.password) options.password = decodeURIComponent(parsed.password);
  if (parsed.protocol === 'rediss:') options.tls = {};
  return options;
}

export function createRedisStore(options: RedisStoreOptions): RedisStore {
  const clusterNodes = (options.clusterNodes ?? []).filter((node) => node.trim() !== '');
  if (clusterNodes.length === 0 && !options.url) {
    throw new TypeError('createRedisStore needs a url or clusterNodes');
  }
  const keyPrefix = options.keyPrefix ?? '';
  const connectionOptions = {
    lazyConnect: true,
    // Until connect() settles commands may queue; afterwards a disconnected store fails fast (see connect()).
    enableOfflineQueue: true,
    commandTimeout: options.commandTimeoutMs ?? 2000,
    connectTimeout: options.connectTimeoutMs ?? 3000,
    maxRetriesPerRequest: 0,
    // A command that was in flight when the connection dropped has already been answered with a 503;
    // replaying it later would apply a write the caller believes failed.
    autoResendUnfulfilledCommands: false,
  } satisfies RedisOptions;

  let client: Redis | Cluster;
  if (clusterNodes.length > 0) {
    const clusterOptions: ClusterOptions = {
      lazyConnect: true,
      enableOfflineQueue: true,
      keyPrefix,
      clusterRetryStrategy: reconnectDelay,
      // Per-node connections: ioredis itself keeps them lazy with an offline queue and lets the
      // cluster (clusterRetryStrategy, slot refresh) handle reconnection.
      redisOptions: {
        ...credentialsFrom(options.url),
        commandTimeout: connectionOptions.commandTimeout,
        connectTimeout: connectionOptions.connectTimeout,
        maxRetriesPerRequest: connectionOptions.maxRetriesPerRequest,
        autoResendUnfulfilledCommands: connectionOptions.autoResendUnfulfilledCommands,
      },
    };
    client = new Cluster(clusterNodes.map(parseNode), clusterOptions);
  } else {
    client = new Redis(options.url as string, { ...connectionOptions, keyPrefix, retryStrategy: reconnectDelay });
  }
  const isCluster = client instanceof Cluster;

  client.defineCommand('storeCompareAndSet', { numberOfKeys: 1, lua: CAS_SCRIPT });
  client.defineCommand('storeIndexAdd', { numberOfKeys: 1, lua: INDEX_ADD_SCRIPT });
  client.defineCommand('storeIndexMembers', { numberOfKeys: 1, lua: INDEX_MEMBERS_SCRIPT, readOnly: true });
  const scripts = client as unknown as ScriptCommands;

  const errorLog = createErrorLog(options.logger);
  client.on('error', (error: Error) => errorLog.error(error));
  if (isCluster) client.on('node error', (error: Error, node: string) => errorLog.error(error, node));
  client.on('ready', () => errorLog.recovered());

  /** Runs `command` once per group of keys that share a slot (cluster) or in large batches (single node). */
  function perSlotGroup(keys: readonly string[], command: (group: string[]) => Promise<unknown>): Promise<unknown[]> {
    const groups = isCluster ? groupByHashTag(keys, keyPrefix) : [keys.slice()];
    return Promise.all(groups.flatMap((group) => chunks(group, MAX_KEYS_PER_COMMAND)).map(command));
  }

  let connecting: Promise<void> | undefined;

  return {
    kind: isCluster ? 'cluster' : 'redis',
    redis: client,

    connect(): Promise<void> {
      connecting ??= (async () => {
        try {
          await client.connect();
        } catch (error) {
          throw new ServiceUnavailableError('store', error);
        } finally {
          // From now on a request meeting a disconnected store gets a 503 at once instead of waiting
          // in a queue for a reconnect that may take minutes.
          client.options.enableOfflineQueue = false;
        }
      })();
      return connecting;
    },

    async get<T>(key: string): Promise<T | undefined> {
      return deserialize<T>(await guarded(client.get(key)));
    },

    async getMany<T>(keys: readonly string[]): Promise<(T | undefined)[]> {
      if (keys.length === 0) return [];
      const texts = new Map<string, string | null>();
      await guarded(
        perSlotGroup(keys, async (group) => {
          const found = await client.mget(group);
          group.forEach((key, i) => texts.set(key, found[i] ?? null));
        }),
      );
      return keys.map((key) => deserialize<T>(texts.get(key)));
    },

    async set<T>(key: string, value: T, ttlSeconds: number): Promise<void> {
      const ttlMs = ttlToMilliseconds(ttlSeconds);
      await guarded(client.set(key, serialize(value), 'PX', ttlMs));
    },

    async delete(...keys: string[]): Promise<void> {
      if (keys.length === 0) return;
      await guarded(perSlotGroup(keys, (group) => client.del(...group)));
    },

    async compareAndSet<T>(key: string, expected: T | undefined, next: T, ttlSeconds: number): Promise<boolean> {
      const ttlMs = ttlToMilliseconds(ttlSeconds);
      const nextText = serialize(next);
      if (expected === undefined) {
        return (await guarded(client.set(key, nextText, 'PX', ttlMs, 'NX'))) === 'OK';
      }
      return (await guarded(scripts.storeCompareAndSet(key, serialize(expected), nextText, ttlMs))) === 1;
    },

    async indexAdd(index: string, member: string, ttlSeconds: number): Promise<void> {
      const ttlMs = ttlToMilliseconds(ttlSeconds);
      await guarded(scripts.storeIndexAdd(index, member, ttlMs));
    },

    async writeMany(writes: readonly StoreWrite[]): Promise<void> {
      if (writes.length === 0) return;
      // Checked first: a bad TTL or value leaves every write unapplied.
      const ready = writes.map((write) => ({
        write,
        ttlMs: ttlToMilliseconds(write.ttlSeconds),
        text: write.op === 'set' ? serialize(write.value) : '',
      }));
      // A cluster pipeline must stay within one slot: one per hash tag, all sent at once.
      const groups = new Map<string, typeof ready>();
      for (const item of ready) {
        const tag = isCluster ? hashTag(keyPrefix + (item.write.op === 'set' ? item.write.key : item.write.index)) : '';
        const group = groups.get(tag);
        if (group) group.push(item);
        else groups.set(tag, [item]);
      }
      await guarded(
        Promise.all(
          [...groups.values()].map(async (group) => {
            const pipeline = client.pipeline();
            for (const { write, ttlMs, text } of group) {
              if (write.op === 'set') pipeline.set(write.key, text, 'PX', ttlMs);
              else (pipeline as unknown as ScriptCommands).storeIndexAdd(write.index, write.member, ttlMs);
            }
            // exec() answers each command with [error, reply]; any error fails the whole call.
            for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
          }),
        ),
      );
    },

    async indexRemove(index: string, ...members: string[]): Promise<void> {
      if (members.length === 0) return;
      await guarded(Promise.all(chunks(members, MAX_KEYS_PER_COMMAND).map((group) => client.zrem(index, ...group))));
    },

    async indexMembers(index: string): Promise<string[]> {
      return guarded(scripts.storeIndexMembers(index));
    },

    async ping(): Promise<void> {
      // A cluster is only usable when every master answers: each one owns part of the keyspace.
      const nodes = client instanceof Cluster ? client.nodes('master') : [client];
      if (nodes.length === 0) throw new ServiceUnavailableError('store', new Error('No Redis Cluster master known'));
      await guarded(Promise.all(nodes.map((node) => node.ping())));
    },

    async close(): Promise<void> {
      try {
        await client.quit();
      } catch {
        // Already disconnected: nothing to say goodbye to.
      }
      client.disconnect();
    },
  };
}
