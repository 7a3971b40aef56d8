/**
 * The account cache (src/services/accounts/cache.ts) across processes: two servers sharing one database
 * and one Redis (as several processes or WORKERS do). /me is served from the cache, yet a change made
 * through the other server — by a service, a role grant, a role deletion or a bare model update — shows
 * at once, because every write to a user or its roles moves the user's (or everyone's) generation.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Server } from 'node:http';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { buildDependencies, type Dependencies } from '../../src/dependencies.ts';
import { createServerApp } from '../../src/server.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { freePort, TEST_IP_ATTEMPTS, TEST_REDIS_URL } from '../helpers/app.ts';
import { legacyClient, PROFILE_ADAPTERS, type LegacyClient } from '../helpers/legacy-client.ts';

const AURORA = PROFILE_ADAPTERS.find((profile) => profile.name === 'aurora') as (typeof PROFILE_ADAPTERS)[number];

interface Instance {
  deps: Dependencies;
  server: Server;
  api: LegacyClient;
}

describe('the account cache shared by two server processes', function () {
  this.timeout(30_000);
  let database: TestDatabase;
  let dataDir: string;
  const prefix = `test:acct-${randomBytes(4).toString('hex')}:`;
  const instances: Instance[] = [];

  async function startInstance(): Promise<Instance> {
    const port = await freePort();
    const config = loadConfig({
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      // One public address for both, as behind a load balancer: tokens name it as their issuer.
      PUBLIC_URL: 'http://idp.account-cache.test',
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      COOKIE_KEYS: 'account-cache-test-cookie-key-0123456789abcdef',
      DATA_DIR: dataDir,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    });
    const deps = await buildDependencies(config, createLogger({ level: config.logLevel }), { storeKeyPrefix: prefix, loginLimits: { ipAttempts: TEST_IP_ATTEMPTS } });
    const { server } = await createServerApp(deps);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const instance = { deps, server, api: legacyClient(`http://127.0.0.1:${port}`, AURORA) };
    instances.push(instance);
    return instance;
  }

  before(async function () {
    database = await createTestDatabase('postgres', { mocha: this });
    dataDir = mkdtempSync(path.join(tmpdir(), 'idp-acct-cache-'));
  });

  after(async () => {
    const redis = instances[0]?.deps.store.redis;
    if (redis && 'scanStream' in redis) {
      for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 500 }) as AsyncIterable<string[]>) {
        const own = keys.filter((key) => key.startsWith(prefix)).map((key) => key.slice(prefix.length));
        if (own.length) await redis.unlink(...own);
      }
    }
    for (const { server, deps } of instances.splice(0)) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await deps.close();
    }
    await database?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('shows a change made through the other server at the next /me, whoever made it', async () => {
    const first = await startInstance();
    const second = await startInstance();
    const { user, tokens } = await first.api.signedIn('cached');
    const me = async () => (await second.api.get('/me', { token: tokens.access })).body as Record<string, unknown>;
    const id = String((await me()).id);
    expect(await me()).to.include({ full_name: 'Test User', role: null });

    // The profile, through the other server's legacy API.
    expect((await first.api.put('/users/me', { token: tokens.access, json: { full_name: 'Renamed Once' } })).status).to.equal(200);
    expect(await me()).to.include({ full_name: 'Renamed Once' });

    // A role, through the role service (a UserRole row).
    await first.deps.roles.grant(id, 'editor');
    expect(await me()).to.include({ role: 'editor' });

    // A bare bulk update on the model, as a CLI or an admin service might do.
    await first.deps.models.User.update({ fullName: 'Renamed Twice' }, { where: { id } });
    expect(await me()).to.include({ full_name: 'Renamed Twice' });

    // A role deleted: its links go by ON DELETE CASCADE, without hooks of their own.
    await first.deps.models.Role.destroy({ where: { name: 'editor' } });
    expect(await me()).to.include({ role: null });

    // Deactivated through the account service: the sessions end, so the token stops working everywhere.
    await first.deps.accounts.setStatus(id, 'inactive', { door: 'admin' });
    expect((await second.api.get('/me', { token: tokens.access })).status).to.equal(401);
    expect((await second.api.post('/login', { json: AURORA.loginBody(user) })).status).to.equal(403);
  });
});
