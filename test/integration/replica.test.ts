/**
 * Read replicas (DATABASE_READ_URLS, Sequelize replication) against a real streaming replica: plain
 * reads go to the replica, while reads that must be fresh (the login right after a registration, the
 * account after a password change, the signing keys at start-up) go to the primary. Pausing WAL replay
 * on the replica makes any read that wrongly went there visible: it would not see the new rows.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Server } from 'node:http';
import { QueryTypes } from 'sequelize';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { buildDependencies, type Dependencies } from '../../src/dependencies.ts';
import { createServerApp } from '../../src/server.ts';
import { postgresBinDir, startPostgresReplica, type PostgresReplicaPair } from '../helpers/postgres-replica.ts';
import { servicesRequired } from '../helpers/database.ts';
import { TEST_IP_ATTEMPTS, TEST_REDIS_URL } from '../helpers/app.ts';
import { legacyClient, newUser, PROFILE_ADAPTERS, type LegacyClient } from '../helpers/legacy-client.ts';

const AUTH_SERVICE = PROFILE_ADAPTERS[0] as (typeof PROFILE_ADAPTERS)[number];
const PORTS = { primary: 7600, replica: 7601, server: 7602 };
const DATABASE = 'idp_replica_test';

async function serverPort(deps: Dependencies, useMaster: boolean): Promise<number> {
  const [row] = await deps.sequelize.query<{ port: number }>('SELECT inet_server_port() AS port', { type: QueryTypes.SELECT, useMaster });
  return Number(row?.port);
}

describe('read replicas (DATABASE_READ_URLS) with a streaming replica', function () {
  this.timeout(120_000);
  let pair: PostgresReplicaPair | undefined;
  let deps: Dependencies;
  let server: Server;
  let dataDir: string;
  let api: LegacyClient;

  before(async function () {
    if (!postgresBinDir()) {
      if (servicesRequired()) throw new Error('PostgreSQL server binaries are not installed; REQUIRE_SERVICES=1 makes this a failure');
      this.skip();
    }
    pair = await startPostgresReplica({ primaryPort: PORTS.primary, replicaPort: PORTS.replica });
    await pair.primaryQuery(`CREATE DATABASE ${DATABASE}`);
    await pair.caughtUp();
    dataDir = mkdtempSync(path.join(tmpdir(), 'idp-replica-'));
    const config = loadConfig({
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(PORTS.server),
      PUBLIC_URL: `http://127.0.0.1:${PORTS.server}`,
      DATABASE_URL: pair.primaryUrl(DATABASE),
      DATABASE_READ_URLS: pair.replicaUrl(DATABASE),
      REDIS_URL: TEST_REDIS_URL,
      DATA_DIR: dataDir,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    });
    // Migrations, the first signing keys and the admin are written and read back at once: the start
    // itself must not depend on the replica having caught up.
    deps = await buildDependencies(config, createLogger({ level: config.logLevel }), {
      storeKeyPrefix: `test:replica-${randomBytes(4).toString('hex')}:`,
      loginLimits: { ipAttempts: TEST_IP_ATTEMPTS },
    });
    ({ server } = await createServerApp(deps));
    await new Promise<void>((resolve) => server.listen(PORTS.server, '127.0.0.1', resolve));
    // The tests pause replay: the replica must have the schema first.
    await pair.caughtUp();
    api = legacyClient(`http://127.0.0.1:${PORTS.server}`, AUTH_SERVICE);
  });

  /** This server's keys in the shared Redis (sessions live for days): removed, never the others'. */
  async function removeStoreKeys(): Promise<void> {
    const redis = deps?.store.redis;
    const prefix = redis?.options.keyPrefix;
    if (!redis || !prefix || !('scanStream' in redis)) return;
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 500 }) as AsyncIterable<string[]>) {
      const own = keys.filter((key) => key.startsWith(prefix)).map((key) => key.slice(prefix.length));
      if (own.length) await redis.unlink(...own);
    }
  }

  after(async () => {
    await removeStoreKeys().catch(() => undefined);
    await pair?.resumeReplay().catch(() => undefined);
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await deps?.close();
    await pair?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  afterEach(async () => {
    await pair?.resumeReplay();
  });

  it('sends plain reads to the replica and writes (and reads asked to be fresh) to the primary', async () => {
    expect(await serverPort(deps, false)).to.equal(PORTS.replica);
    expect(await serverPort(deps, true)).to.equal(PORTS.primary);
  });

  it('logs in right after a registration while the replica lags, and serves /me for the new account', async () => {
    await pair?.pauseReplay();
    const user = newUser('fresh');
    await api.register(user);

    // The replica has not seen the user: a plain read does not find it...
    expect(await deps.accounts.findByEmail(user.email)).to.equal(undefined);
    // ...but the login, and the account behind the new token, are read from the primary.
    const tokens = await api.login(user);
    const me = await api.get('/me', { token: tokens.access });
    expect(me.status).to.equal(200);
    expect(me.body).to.include({ username: user.username, is_active: true });

    await pair?.resumeReplay();
    await pair?.caughtUp();
    expect((await deps.accounts.findByEmail(user.email))?.username).to.equal(user.username);
  });

  it('checks the current password against the primary after a password change while the replica lags', async () => {
    const user = newUser('change');
    await api.register(user);
    await pair?.caughtUp();
    const tokens = await api.login(user);
    await pair?.pauseReplay();

    const second = `${user.password}-2`;
    const third = `${user.password}-3`;
    const change = (current: string, next: string) =>
      api.put('/users/me/password', { token: tokens.access, json: { current_password: current, new_password: next } });
    expect((await change(user.password, second)).status).to.equal(200);
    // The replica still holds the first hash: checked there, this would be "Incorrect current password".
    expect((await change(second, third)).status).to.equal(200);
    expect((await change(user.password, `${user.password}-4`)).status).to.equal(400);

    expect((await api.post('/login', { json: AUTH_SERVICE.loginBody(user, third) })).status).to.equal(200);
    expect((await api.post('/login', { json: AUTH_SERVICE.loginBody(user, second) })).status).to.equal(401);
    expect((await api.post('/login', { json: AUTH_SERVICE.loginBody(user) })).status).to.equal(401);
  });
});
