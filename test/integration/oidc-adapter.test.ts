/**
 * The oidc-provider adapter over the Store port, one contract run against both stores: the in-process
 * store and Redis (the shared server, under a key prefix of its own).
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { errors } from 'oidc-provider';
import type { AdapterPayload } from 'oidc-provider';
import { createMemoryStore } from '../../src/store/memory-store.ts';
import { createRedisStore, type RedisStore } from '../../src/store/redis-store.ts';
import type { Store } from '../../src/store/store.ts';
import { createOidcStorage, type OidcStorage } from '../../src/oidc/adapter.ts';
import { accountGrantsKey, grantIndexKey, grantMember, refOf } from '../../src/oidc/storage-keys.ts';
import { TEST_REDIS_URL } from '../helpers/app.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const epoch = () => Math.floor(Date.now() / 1000);

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

interface Harness {
  store: Store;
  /** Members physically in a sorted-set index, expired ones included (Redis); the live ones otherwise. */
  rawIndexSize(index: string): Promise<number>;
  close(): Promise<void>;
}

const harnesses: { name: string; setUp: (context: Mocha.Context) => Promise<Harness> }[] = [
  {
    name: 'in-process store',
    async setUp() {
      const store = createMemoryStore();
      return { store, rawIndexSize: async (index) => (await store.indexMembers(index)).length, close: () => store.close() };
    },
  },
  {
    name: 'Redis',
    async setUp(context) {
      const store: RedisStore = createRedisStore({ url: TEST_REDIS_URL, keyPrefix: `test:oidc-adapter:${randomUUID()}:` });
      try {
        await store.connect();
      } catch (err) {
        await store.close();
        if (process.env.REQUIRE_SERVICES === '1') throw err;
        context.skip();
      }
      return {
        store,
        rawIndexSize: (index) => store.redis.zcard(index),
        async close() {
          // ioredis does not prefix KEYS patterns but does prefix DEL arguments.
          const prefix = store.redis.options.keyPrefix ?? '';
          const keys = (await store.redis.keys(`${prefix}*`)).filter((key) => key.startsWith(prefix));
          if (keys.length) await store.redis.del(...keys.map((key) => key.slice(prefix.length)));
          await store.close();
        },
      };
    },
  },
];

function token(grantId: string, extra: Partial<AdapterPayload> = {}): AdapterPayload {
  return { iat: epoch(), exp: epoch() + 600, grantId, clientId: 'c1', accountId: 'u1', ...extra };
}

for (const { name, setUp } of harnesses) {
  describe(`oidc-provider adapter over the Store (${name})`, function () {
    let harness: Harness;
    let storage: OidcStorage;
    const clients = new Map<string, AdapterPayload>([['db-client', { client_id: 'db-client', redirect_uris: ['https://x.example/cb'] }]]);

    before(async function () {
      harness = await setUp(this);
      storage = createOidcStorage({
        store: harness.store,
        clients: { find: async (id) => clients.get(id) },
        maxAccessTokenTtlSeconds: 1800,
        graceSeconds: 0,
      });
    });
    after(async () => harness?.close());

    const adapter = (model: string) => storage.adapterFactory(model);

    it('stores and finds every model by id, and forgets it when its TTL runs out', async () => {
      for (const model of ['Session', 'Interaction', 'AuthorizationCode', 'RefreshToken', 'ClientCredentials', 'PushedAuthorizationRequest', 'ReplayDetection', 'Grant']) {
        const id = randomUUID();
        await adapter(model).upsert(id, { jti: id, kind: model, exp: epoch() + 60 }, 60);
        expect(await adapter(model).find(id), model).to.deep.include({ jti: id, kind: model });
      }
      const id = randomUUID();
      await adapter('Interaction').upsert(id, { jti: id }, 0.3);
      await sleep(450);
      expect(await adapter('Interaction').find(id)).to.equal(undefined);
    });

    it('finds clients in the client source, not in the store', async () => {
      expect(await adapter('Client').find('db-client')).to.deep.include({ client_id: 'db-client' });
      expect(await adapter('Client').find('nobody')).to.equal(undefined);
    });

    it('finds a session by its uid, and a device code by its user code', async () => {
      const uid = randomUUID();
      await adapter('Session').upsert('sess-1', { uid, accountId: 'u1', exp: epoch() + 60 }, 60);
      expect(await adapter('Session').findByUid(uid)).to.deep.include({ uid, accountId: 'u1' });
      // A re-identified session (new id, same uid) moves the uid along; destroying the old id keeps it.
      await adapter('Session').upsert('sess-2', { uid, accountId: 'u1', exp: epoch() + 60 }, 60);
      await adapter('Session').destroy('sess-1');
      expect(await adapter('Session').findByUid(uid)).to.deep.include({ uid });
      await adapter('Session').destroy('sess-2');
      expect(await adapter('Session').findByUid(uid)).to.equal(undefined);

      await adapter('DeviceCode').upsert('dc-1', token(randomUUID(), { userCode: 'BCDF-GHJK' }), 60);
      expect(await adapter('DeviceCode').findByUserCode('BCDF-GHJK')).to.deep.include({ userCode: 'BCDF-GHJK' });
      await adapter('DeviceCode').destroy('dc-1');
      expect(await adapter('DeviceCode').findByUserCode('BCDF-GHJK')).to.equal(undefined);
    });

    it('consumes a code once: of ten concurrent uses exactly one wins, and the losers revoke the grant', async () => {
      const grantId = randomUUID();
      await adapter('Grant').upsert(grantId, { accountId: 'u1', clientId: 'c1', exp: epoch() + 600 }, 600);
      await adapter('AuthorizationCode').upsert('code-1', token(grantId), 60);
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => adapter('AuthorizationCode').consume('code-1')));
      expect(results.filter((result) => result.status === 'fulfilled')).to.have.length(1);
      for (const result of results) {
        if (result.status === 'rejected') expect(result.reason).to.be.instanceOf(errors.InvalidGrant);
      }
      expect(await adapter('Grant').find(grantId), 'a replayed code revokes its grant').to.equal(undefined);
    });

    it('marks a consumed token and drops it from the grant index, so the index holds only what is live', async () => {
      const grantId = randomUUID();
      await adapter('RefreshToken').upsert('rt-1', token(grantId), 600);
      expect(await storage.grantMembers(grantId)).to.deep.equal([grantMember('RefreshToken', refOf('rt-1'))]);
      await adapter('RefreshToken').consume('rt-1');
      expect((await adapter('RefreshToken').find('rt-1'))?.consumed).to.be.a('number');
      expect(await storage.grantMembers(grantId)).to.deep.equal([]);
      expect(await rejection(adapter('RefreshToken').consume('rt-1'))).to.be.instanceOf(errors.InvalidGrant);
    });

    it('keeps the grant index at one member however often the grant is refreshed', async () => {
      const grantId = randomUUID();
      await adapter('Grant').upsert(grantId, { accountId: 'u1', clientId: 'c1', exp: epoch() + 600 }, 600);
      let current = 'rt-0';
      await adapter('RefreshToken').upsert(current, token(grantId), 600);
      for (let i = 1; i <= 300; i += 1) {
        await adapter('RefreshToken').consume(current);
        current = `rt-${i}`;
        await adapter('RefreshToken').upsert(current, token(grantId), 600);
        await adapter('AccessToken').upsert(`at-${i}`, token(grantId), 600);
      }
      expect(await harness.rawIndexSize(grantIndexKey(grantId))).to.equal(1);
    });

    it('revokes by grant: each model its own members, access tokens through the grant cut-off', async () => {
      const grantId = randomUUID();
      const other = randomUUID();
      await adapter('Grant').upsert(grantId, { accountId: 'u2', clientId: 'c1', exp: epoch() + 600 }, 600);
      await adapter('Grant').upsert(other, { accountId: 'u2', clientId: 'c1', exp: epoch() + 600 }, 600);
      await adapter('RefreshToken').upsert('rt-a', token(grantId), 600);
      await adapter('AuthorizationCode').upsert('code-a', token(grantId), 60);
      await adapter('AccessToken').upsert('at-a', token(grantId, { iat: epoch() - 5 }), 600);
      await adapter('AccessToken').upsert('at-other', token(other, { iat: epoch() - 5 }), 600);
      expect(await adapter('AccessToken').find('at-a')).to.not.equal(undefined);

      await adapter('RefreshToken').revokeByGrantId(grantId);
      expect(await adapter('RefreshToken').find('rt-a')).to.equal(undefined);
      expect(await adapter('AuthorizationCode').find('code-a'), 'another model keeps its own').to.not.equal(undefined);
      await adapter('AccessToken').revokeByGrantId(grantId);
      expect(await adapter('AccessToken').find('at-a')).to.equal(undefined);
      expect(await adapter('AccessToken').find('at-other')).to.not.equal(undefined);
    });

    it('refuses an access token whose grant is gone, and revokeGrant takes everything of the grant', async () => {
      const grantId = randomUUID();
      await adapter('Grant').upsert(grantId, { accountId: 'u3', clientId: 'c1', exp: epoch() + 600 }, 600);
      await adapter('RefreshToken').upsert('rt-b', token(grantId), 600);
      await adapter('AccessToken').upsert('at-b', token(grantId), 600);
      expect(await storage.grantIdsOfAccount('u3')).to.deep.equal([grantId]);

      await storage.revokeGrant(grantId);
      expect(await adapter('Grant').find(grantId)).to.equal(undefined);
      expect(await adapter('RefreshToken').find('rt-b')).to.equal(undefined);
      expect(await adapter('AccessToken').find('at-b')).to.equal(undefined);
      expect(await storage.grantIdsOfAccount('u3')).to.deep.equal([]);
      expect(await harness.rawIndexSize(accountGrantsKey('u3'))).to.equal(0);
    });

    it('finds an SSO session by uid and destroys it with its uid mapping', async () => {
      const uid = randomUUID();
      await adapter('Session').upsert('sess-x', { uid, accountId: 'u4', exp: epoch() + 60 }, 60);
      const found = await storage.findSessionByUid(uid);
      expect(found?.ref).to.equal(refOf('sess-x'));
      expect(found?.payload).to.include({ uid, accountId: 'u4' });
      expect(found?.payload).not.to.have.property('jti');
      expect(await adapter('Session').find('sess-x')).to.include({ jti: 'sess-x', uid });
      await storage.destroySession(found?.ref as string, found?.payload as AdapterPayload);
      expect(await storage.findSessionByUid(uid)).to.equal(undefined);
      expect(await adapter('Session').find('sess-x')).to.equal(undefined);
    });
  });
}
