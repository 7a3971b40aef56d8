import { expect } from 'chai';
import { ServiceUnavailableError } from '../../src/errors.ts';
import { createRedisStore } from '../../src/store/redis-store.ts';
import type { RedisStore, StoreLogger } from '../../src/store/redis-store.ts';
import { redisServerAvailable, startRedisServer } from '../helpers/redis.ts';
import type { RedisServer } from '../helpers/redis.ts';

const requireServices = process.env.REQUIRE_SERVICES === '1';

async function settle(promise: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  try {
    await promise;
    return { error: undefined, ms: Date.now() - started };
  } catch (error) {
    return { error, ms: Date.now() - started };
  }
}

/** Polls until `operation` succeeds; the store must recover on its own (reconnect backoff ≤ 1 s). */
async function eventually(operation: () => Promise<unknown>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await operation();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function recordingLogger(): StoreLogger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, warn: (_obj, msg) => warnings.push(msg), info: () => undefined };
}

describe('Redis store during a Redis outage', function () {
  this.timeout(20_000);
  let server: RedisServer | undefined;
  let store: RedisStore | undefined;

  before(async function () {
    if (!(await redisServerAvailable())) {
      if (requireServices) throw new Error('redis-server is not installed (REQUIRE_SERVICES=1)');
      this.skip();
    }
  });

  afterEach(async function () {
    await store?.close();
    await server?.stop();
    store = undefined;
    server = undefined;
  });

  it('fails fast with ServiceUnavailableError while Redis is down and recovers by itself when it returns', async function () {
    server = await startRedisServer({ port: 7101 });
    const logger = recordingLogger();
    store = createRedisStore({ url: server.url, keyPrefix: 'outage:', logger });
    await store.connect();
    await store.set('k', 'before', 60);
    await store.indexAdd('idx', 'm', 60);

    await server.stop();
    const attempts = [
      store.get('k'),
      store.getMany(['k', 'other']),
      store.set('k', 'during', 60),
      store.delete('k', 'other'),
      store.compareAndSet('k', 'before', 'during', 60),
      store.compareAndSet('new', undefined, 'during', 60),
      store.indexAdd('idx', 'm2', 60),
      store.indexRemove('idx', 'm'),
      store.indexMembers('idx'),
      store.ping(),
    ];
    for (const { error, ms } of await Promise.all(attempts.map(settle))) {
      expect(error).to.be.instanceOf(ServiceUnavailableError);
      expect((error as ServiceUnavailableError).dependency).to.equal('store');
      expect(ms).to.be.below(3000);
    }
    // Still failing fast a while later, when the client is between reconnect attempts.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const late = await settle(store.get('k'));
    expect(late.error).to.be.instanceOf(ServiceUnavailableError);
    expect(late.ms).to.be.below(3000);
    // Errors are logged, but rate-limited rather than one line per reconnect attempt.
    expect(logger.warnings.length).to.be.within(1, 2);

    await server.restart();
    await eventually(() => store!.ping(), 5000);
    await store.set('k', 'after', 60);
    expect(await store.get('k')).to.equal('after');
    expect(await store.compareAndSet('k', 'after', 'again', 60)).to.equal(true);
    await store.indexAdd('idx', 'm3', 60);
    expect(await store.indexMembers('idx')).to.deep.equal(['m3']);
  });

  it('rejects connect() when Redis is down at start-up, then comes up once Redis does', async function () {
    store = createRedisStore({ url: 'redis://127.0.0.1:7102', logger: recordingLogger() });
    const { error, ms } = await settle(store.connect());
    expect(error).to.be.instanceOf(ServiceUnavailableError);
    expect(ms).to.be.below(3000);
    expect((await settle(store.get('k'))).error).to.be.instanceOf(ServiceUnavailableError);

    server = await startRedisServer({ port: 7102 });
    await eventually(() => store!.ping(), 5000);
    await store.set('k', 'v', 60);
    expect(await store.get('k')).to.equal('v');
  });
});
