import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { createMemoryStore } from '../../src/store/memory-store.ts';
import type { MemoryStore } from '../../src/store/memory-store.ts';
import { createRedisStore } from '../../src/store/redis-store.ts';
import type { RedisStore } from '../../src/store/redis-store.ts';
import type { Store } from '../../src/store/store.ts';
import { redisServerAvailable, startRedisCluster } from '../helpers/redis.ts';
import type { RedisCluster } from '../helpers/redis.ts';

const SHARED_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CLUSTER_PORTS = [7110, 7111, 7112];
const requireServices = process.env.REQUIRE_SERVICES === '1';

interface Harness {
  store: Store;
  /** Members physically held by `index`, expired ones included: what pruning must keep small. */
  rawIndexSize(index: string): Promise<number>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

/** Keys spread over many cluster slots, plus a few sharing one hash tag. */
function manyKeys(count: number): string[] {
  const keys = Array.from({ length: count }, (_, i) => `k:${i}:${randomUUID()}`);
  return [...keys, `session:{u:1}:a`, `session:{u:1}:b`, `session:{u:1}:c`];
}

function storeContract(name: string, setUp: (context: Mocha.Context) => Promise<Harness>, tearDown: () => Promise<void>): void {
  describe(`Store contract: ${name}`, function () {
    let store: Store;
    let rawIndexSize: Harness['rawIndexSize'];

    before(async function () {
      ({ store, rawIndexSize } = await setUp(this));
    });
    after(tearDown);

    describe('get / set', function () {
      it('returns undefined for an absent key', async function () {
        expect(await store.get('absent')).to.equal(undefined);
      });

      it('round-trips JSON values and hands out copies, never shared objects', async function () {
        const original = { a: 1, nested: { list: [1, 'two', null, true] }, s: 'ünïcødé' };
        const value = structuredClone(original);
        await store.set('obj', value, 60);
        value.a = 2;
        const first = await store.get<typeof original>('obj');
        expect(first).to.deep.equal(original);
        first!.nested.list.push(4);
        expect(await store.get('obj')).to.deep.equal(original);
        await store.set('num', 0, 60);
        await store.set('str', '', 60);
        await store.set('nul', null, 60);
        expect(await store.getMany(['num', 'str', 'nul', 'absent', 'obj'])).to.deep.equal([0, '', null, undefined, original]);
        expect(await store.getMany([])).to.deep.equal([]);
      });

      it('expires a value after its TTL and a later set renews it', async function () {
        await store.set('short', 'v', 0.3);
        await store.set('renewed', 'v1', 0.3);
        await store.set('renewed', 'v2', 5);
        expect(await store.get('short')).to.equal('v');
        await sleep(450);
        expect(await store.get('short')).to.equal(undefined);
        expect(await store.get('renewed')).to.equal('v2');
      });

      it('rejects a TTL that is not a positive finite number', async function () {
        for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
          expect(await rejection(store.set('bad-ttl', 1, ttl))).to.be.instanceOf(RangeError);
        }
        expect(await store.get('bad-ttl')).to.equal(undefined);
      });
    });

    describe('delete', function () {
      it('deletes many keys across slots in one call, ignoring absent ones', async function () {
        const keys = manyKeys(200);
        await Promise.all(keys.map((key, i) => store.set(key, i, 60)));
        await store.set('kept', 'yes', 60);
        expect(await store.getMany(keys)).to.deep.equal(keys.map((_, i) => i));
        await store.delete(...keys, 'never-existed');
        expect((await store.getMany(keys)).every((v) => v === undefined)).to.equal(true);
        expect(await store.get('kept')).to.equal('yes');
        await store.delete();
      });

      it('deletes an index like any key', async function () {
        await store.indexAdd('idx:deleted', 'm', 60);
        await store.delete('idx:deleted');
        expect(await store.indexMembers('idx:deleted')).to.deep.equal([]);
      });
    });

    describe('compareAndSet', function () {
      it('replaces the value when it still equals the expected one', async function () {
        await store.set('cas', { v: 1, tags: ['a'] }, 60);
        const current = await store.get<{ v: number; tags: string[] }>('cas');
        expect(await store.compareAndSet('cas', current, { v: 2, tags: ['b'] }, 60)).to.equal(true);
        expect(await store.get('cas')).to.deep.equal({ v: 2, tags: ['b'] });
      });

      it('changes nothing when the value differs from the expected one', async function () {
        await store.set('cas-mismatch', { v: 1 }, 60);
        expect(await store.compareAndSet('cas-mismatch', { v: 0 }, { v: 2 }, 60)).to.equal(false);
        expect(await store.get('cas-mismatch')).to.deep.equal({ v: 1 });
      });

      it('with expected undefined, sets only an absent key', async function () {
        expect(await store.compareAndSet('cas-absent', undefined, 'first', 60)).to.equal(true);
        expect(await store.compareAndSet('cas-absent', undefined, 'second', 60)).to.equal(false);
        expect(await store.get('cas-absent')).to.equal('first');
      });

      it('fails on an absent key when a value was expected', async function () {
        expect(await store.compareAndSet('cas-gone', { v: 1 }, { v: 2 }, 60)).to.equal(false);
        expect(await store.get('cas-gone')).to.equal(undefined);
      });

      it('gives the new value the new TTL', async function () {
        await store.set('cas-ttl', 'old', 60);
        expect(await store.compareAndSet('cas-ttl', 'old', 'new', 0.3)).to.equal(true);
        await sleep(450);
        expect(await store.get('cas-ttl')).to.equal(undefined);
      });

      it('lets exactly one of 20 concurrent swaps from one expected value win', async function () {
        await store.set('cas-race', { generation: 0 }, 60);
        const expected = await store.get('cas-race');
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.compareAndSet('cas-race', expected, { generation: 1, by: i }, 60)),
        );
        expect(results.filter(Boolean)).to.have.length(1);
        expect(await store.get('cas-race')).to.deep.equal({ generation: 1, by: results.indexOf(true) });
      });

      it('lets exactly one of 20 concurrent set-if-absent calls win', async function () {
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.compareAndSet('cas-race-absent', undefined, i, 60)),
        );
        expect(results.filter(Boolean)).to.have.length(1);
        expect(await store.get('cas-race-absent')).to.equal(results.indexOf(true));
      });
    });

    describe('indexes', function () {
      it('adds, lists and removes members', async function () {
        const index = 'idx:{u:42}';
        expect(await store.indexMembers(index)).to.deep.equal([]);
        await store.indexAdd(index, 's1', 60);
        await store.indexAdd(index, 's2', 60);
        await store.indexAdd(index, 's3', 60);
        await store.indexAdd(index, 's2', 60);
        expect((await store.indexMembers(index)).sort()).to.deep.equal(['s1', 's2', 's3']);
        await store.indexRemove(index, 's1', 's3', 'unknown');
        expect(await store.indexMembers(index)).to.deep.equal(['s2']);
        await store.indexRemove(index);
        await store.indexRemove('idx:never', 'x');
        expect(await store.indexMembers(index)).to.deep.equal(['s2']);
      });

      it('drops a member once its own TTL has passed; a re-add renews it', async function () {
        const index = 'idx:expiry';
        await store.indexAdd(index, 'short', 0.3);
        await store.indexAdd(index, 'renewed', 0.3);
        await store.indexAdd(index, 'long', 60);
        await store.indexAdd(index, 'renewed', 60);
        await sleep(450);
        expect((await store.indexMembers(index)).sort()).to.deep.equal(['long', 'renewed']);
      });

      it('stays bounded: members that expired are pruned on the next add', async function () {
        const index = 'idx:bounded';
        for (let batch = 0; batch < 10; batch += 1) {
          await Promise.all(Array.from({ length: 200 }, (_, i) => store.indexAdd(index, `m${batch}-${i}`, 0.3)));
        }
        expect(await rawIndexSize(index)).to.equal(2000);
        await sleep(450);
        expect(await store.indexMembers(index)).to.deep.equal([]);
        await store.indexAdd(index, 'fresh', 60);
        expect(await rawIndexSize(index)).to.equal(1);
        expect(await store.indexMembers(index)).to.deep.equal(['fresh']);
      });
    });

    describe('writeMany', function () {
      it('applies sets and index adds across slots in one call, each like its single call', async function () {
        const keys = manyKeys(20);
        await store.set('wm:{u:7}:old', 'before', 60);
        await store.writeMany([
          ...keys.map((key, i) => ({ op: 'set' as const, key, value: { i, key }, ttlSeconds: 60 })),
          { op: 'set', key: 'wm:{u:7}:old', value: 'after', ttlSeconds: 60 },
          { op: 'set', key: 'wm:{u:7}:short', value: 'gone soon', ttlSeconds: 0.3 },
          { op: 'indexAdd', index: 'wm-idx:{u:7}', member: 'a', ttlSeconds: 60 },
          { op: 'indexAdd', index: 'wm-idx:{u:7}', member: 'b', ttlSeconds: 0.3 },
          { op: 'indexAdd', index: 'wm-idx:other', member: 'c', ttlSeconds: 60 },
        ]);
        expect(await store.getMany(keys)).to.deep.equal(keys.map((key, i) => ({ i, key })));
        expect(await store.get('wm:{u:7}:old')).to.equal('after');
        expect((await store.indexMembers('wm-idx:{u:7}')).sort()).to.deep.equal(['a', 'b']);
        expect(await store.indexMembers('wm-idx:other')).to.deep.equal(['c']);
        await sleep(450);
        expect(await store.get('wm:{u:7}:short')).to.equal(undefined);
        expect(await store.indexMembers('wm-idx:{u:7}')).to.deep.equal(['a']);
        await store.writeMany([]);
      });

      it('refuses a bad TTL or value before writing anything', async function () {
        const badTtl = await rejection(store.writeMany([
          { op: 'set', key: 'wm:first', value: 1, ttlSeconds: 60 },
          { op: 'indexAdd', index: 'wm-idx:bad', member: 'm', ttlSeconds: 0 },
        ]));
        expect(badTtl).to.be.instanceOf(RangeError);
        const badValue = await rejection(store.writeMany([
          { op: 'set', key: 'wm:first', value: 1, ttlSeconds: 60 },
          { op: 'set', key: 'wm:second', value: undefined, ttlSeconds: 60 },
        ]));
        expect(badValue).to.be.instanceOf(TypeError);
        expect(await store.get('wm:first')).to.equal(undefined);
        expect(await store.indexMembers('wm-idx:bad')).to.deep.equal([]);
      });
    });

    it('answers ping', async function () {
      await store.ping();
    });
  });
}

/** Fails the hook under REQUIRE_SERVICES=1, skips it otherwise. */
function unavailable(context: Mocha.Context, why: string, cause?: unknown): never {
  if (requireServices) throw new Error(`${why} (REQUIRE_SERVICES=1)`, { cause });
  context.skip();
}

// ---------------------------------------------------------------------------------------------

let memory: MemoryStore;
storeContract(
  'memory',
  async () => {
    memory = createMemoryStore();
    return { store: memory, rawIndexSize: async (index) => memory.indexSize(index) };
  },
  async () => memory?.close(),
);

let shared: RedisStore | undefined;
let sharedPrefix = '';
storeContract(
  `Redis (${SHARED_REDIS_URL})`,
  async (context) => {
    sharedPrefix = `test:store:${randomUUID()}:`;
    shared = createRedisStore({ url: SHARED_REDIS_URL, keyPrefix: sharedPrefix });
    try {
      await shared.connect();
    } catch (error) {
      await shared.close();
      shared = undefined;
      unavailable(context, `Redis at ${SHARED_REDIS_URL} is unreachable`, error);
    }
    const client = shared.redis;
    return { store: shared, rawIndexSize: (index) => client.zcard(index) };
  },
  async () => {
    if (!shared) return;
    // The raw client (no prefix) finds every key this run wrote, so nothing is left in the shared Redis.
    const raw = new Redis(SHARED_REDIS_URL, { lazyConnect: true });
    try {
      const leftovers: string[] = [];
      let cursor = '0';
      do {
        const [next, found] = await raw.scan(cursor, 'MATCH', `${sharedPrefix}*`, 'COUNT', 1000);
        cursor = next;
        leftovers.push(...found);
      } while (cursor !== '0');
      if (leftovers.length > 0) await raw.del(...leftovers);
    } finally {
      raw.disconnect();
      await shared.close();
    }
  },
);

let cluster: RedisCluster | undefined;
let clusterStore: RedisStore | undefined;
storeContract(
  `Redis Cluster (3 masters on ports ${CLUSTER_PORTS.join(', ')})`,
  async (context) => {
    context.timeout(60_000);
    if (!(await redisServerAvailable())) unavailable(context, 'redis-server is not installed');
    cluster = await startRedisCluster({ ports: CLUSTER_PORTS });
    clusterStore = createRedisStore({ clusterNodes: cluster.nodes, keyPrefix: 'p:' });
    await clusterStore.connect();
    const client = clusterStore.redis;
    return { store: clusterStore, rawIndexSize: (index) => client.zcard(index) };
  },
  async () => {
    await clusterStore?.close();
    await cluster?.stop();
  },
);

describe('Redis store specifics', function () {
  let store: RedisStore | undefined;
  const prefix = `test:store:${randomUUID()}:`;
  const raw = new Redis(SHARED_REDIS_URL, { lazyConnect: true });

  before(async function () {
    store = createRedisStore({ url: SHARED_REDIS_URL, keyPrefix: prefix });
    try {
      await store.connect();
    } catch (error) {
      await store.close();
      store = undefined;
      unavailable(this, `Redis at ${SHARED_REDIS_URL} is unreachable`, error);
    }
  });
  after(async function () {
    if (!store) return;
    const keys = await raw.keys(`${prefix}*`);
    if (keys.length > 0) await raw.del(...keys);
    raw.disconnect();
    await store.close();
  });

  it('reports its kind and exposes its client', function () {
    expect(store!.kind).to.equal('redis');
    expect(store!.redis.options.keyPrefix).to.equal(prefix);
  });

  it('applies the key prefix to plain commands and to Lua KEYS alike', async function () {
    await store!.set('plain', 1, 60);
    await store!.compareAndSet('plain', 1, 2, 60);
    await store!.indexAdd('index', 'm', 60);
    expect(await raw.get(`${prefix}plain`)).to.equal('2');
    expect(await raw.zcard(`${prefix}index`)).to.equal(1);
    expect(await raw.exists('plain', 'index')).to.equal(0);
  });

  it('stores index members scored by expiry and lets the index key expire with its last member', async function () {
    const before = Date.now();
    await store!.indexAdd('ttl-index', 'short', 5);
    await store!.indexAdd('ttl-index', 'long', 30);
    await store!.indexAdd('ttl-index', 'shorter', 1);
    const pttl = await raw.pttl(`${prefix}ttl-index`);
    expect(pttl).to.be.within(28_000, 30_000);
    const score = Number(await raw.zscore(`${prefix}ttl-index`, 'long'));
    expect(score).to.be.within(before + 29_000, Date.now() + 31_000);
  });
});
