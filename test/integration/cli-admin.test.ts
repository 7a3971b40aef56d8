import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Server } from 'node:http';
import { expect } from 'chai';
import { runCli } from '../helpers/process.ts';
import bcrypt from 'bcryptjs';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { buildDependencies, type Dependencies } from '../../src/dependencies.ts';
import { createServerApp } from '../../src/server.ts';
import { createTestDatabase, servicesRequired, type TestDatabase } from '../helpers/database.ts';
import { freePort } from '../helpers/app.ts';
import { redisServerAvailable, startRedisServer, type RedisServer } from '../helpers/redis.ts';
import { call } from '../helpers/admin-api.ts';

// This suite's own Redis (the CLI uses the default key prefix, so it must not share the common one).
const REDIS_PORT = 7431;

const cli = (args: string[], env: Record<string, string>) => runCli(args, env);

describe('CLI admin commands (create-admin, import-users, sessions:revoke)', function () {
  this.timeout(90_000);
  let dir: string;
  let db: TestDatabase;
  let redis: RedisServer;
  let env: Record<string, string>;
  let deps: Dependencies;
  let server: Server;
  let url: string;

  before(async function () {
    if (!(await redisServerAvailable())) {
      if (!servicesRequired()) this.skip();
      throw new Error('redis-server is not installed; REQUIRE_SERVICES=1 makes this a failure');
    }
    dir = mkdtempSync(path.join(tmpdir(), 'idp-cli-admin-'));
    db = await createTestDatabase('postgres', { mocha: this });
    redis = await startRedisServer({ port: REDIS_PORT });
    const port = await freePort();
    env = { DATABASE_URL: db.url, REDIS_URL: redis.url, DATA_DIR: dir, HOST: '127.0.0.1', PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` };
    // The server as `npm start` builds it, with the default store key prefix the CLI uses too.
    deps = await buildDependencies(loadConfig(env), createLogger({ level: 'silent' }));
    server = (await createServerApp(deps)).server;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await deps?.close();
    await redis?.stop();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const target = () => ({ url }) as Parameters<typeof call>[0];

  it('--help lists the admin commands', async () => {
    const run = await cli(['--help'], {});
    expect(run.code).to.equal(0);
    for (const command of ['create-admin', 'import-users', 'sessions:revoke', 'migrate', 'keys:rotate']) expect(run.stdout).to.include(command);
  });

  it('create-admin creates a verified admin who can use the admin API, then promotes an existing user', async () => {
    const created = await cli(['create-admin', '--email', 'Ops@Example.com', '--password', 'operator password'], env);
    expect(created.code, created.stderr).to.equal(0);
    expect(created.stdout).to.match(/^Created admin ops@example\.com \([0-9a-f-]{36}\)\.\n$/);
    expect(created.stdout + created.stderr).not.to.include('operator password');

    const login = await call<{ access_token: string }>(target(), 'POST', '/auth/login', { body: { username: 'ops@example.com', password: 'operator password' } });
    expect(login.status).to.equal(200);
    const users = await call<{ items: { email: string; roles: string[]; email_verified: boolean }[] }>(target(), 'GET', '/admin/api/users?q=ops', {
      token: login.body.access_token,
    });
    expect(users.status).to.equal(200);
    expect(users.body.items[0]).to.deep.include({ email: 'ops@example.com', roles: ['idp_admin'], email_verified: true });

    await deps.accounts.register({ email: 'staff@example.com', password: 'staff password' }, { door: 'test' });
    const promoted = await cli(['create-admin', '--email', 'staff@example.com', '--password', 'ignored password'], env);
    expect(promoted.code, promoted.stderr).to.equal(0);
    expect(promoted.stdout).to.include('already existed and now has the idp_admin role; its password was not changed');
    expect((await deps.accounts.findByEmail('staff@example.com'))?.roles).to.deep.equal(['idp_admin']);
    expect((await call(target(), 'POST', '/auth/login', { body: { username: 'staff@example.com', password: 'staff password' } })).status).to.equal(200);
  });

  it('create-admin fails with exit 1 and one clear line on bad input', async () => {
    for (const [args, message] of [
      [['--email', 'not-an-email', '--password', 'long enough'], /--email not-an-email is not a valid e-mail address/],
      [['--email', 'new@example.com', '--password', 'short'], /--password must have 8 to 256 characters/],
      [['--email', 'new@example.com'], /--password must have 8 to 256 characters/],
    ] as [string[], RegExp][]) {
      const run = await cli(['create-admin', ...args], env);
      expect(run.code, args.join(' ')).to.equal(1);
      expect(run.stderr.trim().split('\n'), args.join(' ')).to.have.length(1);
      expect(run.stderr).to.match(message);
    }
    expect(await deps.accounts.findByEmail('new@example.com')).to.equal(undefined);
  });

  it('sessions:revoke ends every session of the user (by e-mail or id): their tokens stop working at once', async () => {
    const account = await deps.accounts.register({ email: 'revoke-me@example.com', password: 'user password' }, { door: 'test' });
    const tokens: string[] = [];
    for (let i = 0; i < 2; i += 1) {
      const res = await call<{ access_token: string }>(target(), 'POST', '/auth/login', { body: { username: 'revoke-me@example.com', password: 'user password' } });
      tokens.push(res.body.access_token);
    }
    expect((await call(target(), 'GET', '/auth/me', { token: tokens[0] })).status).to.equal(200);

    const run = await cli(['sessions:revoke', '--user', 'Revoke-Me@example.com'], env);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.equal(`Revoked 2 sessions and every grant of revoke-me@example.com (${account.id}).\n`);
    for (const token of tokens) expect((await call(target(), 'GET', '/auth/me', { token })).status).to.equal(401);

    const byId = await cli(['sessions:revoke', '--user', account.id], env);
    expect(byId.code).to.equal(0);
    expect(byId.stdout).to.match(/^Revoked 0 sessions/);
  });

  it('sessions:revoke fails with one clear line for an unknown user, or without Redis', async () => {
    const unknown = await cli(['sessions:revoke', '--user', 'nobody@example.com'], env);
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.equal('error: no user with id or e-mail nobody@example.com\n');

    const embedded = { ...env };
    delete embedded.REDIS_URL;
    const noRedis = await cli(['sessions:revoke', '--user', 'nobody@example.com'], embedded);
    expect(noRedis.code).to.equal(1);
    expect(noRedis.stderr.trim().split('\n')).to.have.length(1);
    expect(noRedis.stderr).to.include('sessions:revoke needs the shared store (REDIS_URL)');
  });

  it('import-users prints the summary on stdout and rejected rows with their line on stderr; exit 1 for an unreadable file', async () => {
    const file = path.join(dir, 'few.csv');
    writeFileSync(file, `email,password_hash\nfew1@example.com,${bcrypt.hashSync('few password', 4)}\nfew2@example.com,plain\n`);
    const run = await cli(['import-users', file], env);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.equal('created 1, skipped 0, rejected 1\n');
    expect(run.stderr).to.equal('line 3: password_hash must be a bcrypt ($2a$/$2b$/$2y$) or $argon2id$ hash\n');

    const missing = await cli(['import-users', path.join(dir, 'absent.json')], env);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.match(/^error: .*absent\.json: no such file\n$/);
  });
});
