import { expect } from 'chai';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnServer, waitForStatus, type ServerProcess } from '../helpers/process.ts';
import { freePort, TEST_REDIS_URL } from '../helpers/app.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { createSequelize } from '../../src/db/sequelize.ts';
import { startRedisServer, redisServerAvailable } from '../helpers/redis.ts';

/** The real entry point, as `npm start` runs it. */
describe('the server process (src/main.ts)', function () {
  this.timeout(60_000);
  const cleanups: (() => Promise<void> | void)[] = [];
  let proc: ServerProcess | undefined;

  afterEach(async () => {
    if (proc && proc.child.exitCode === null) {
      proc.kill('SIGKILL');
      await proc.exited;
    }
    proc = undefined;
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function tempDataDir(): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'idp-main-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  it('starts in embedded mode with no configuration, says so, creates the admin, and stops cleanly on SIGTERM', async () => {
    const dataDir = tempDataDir();
    const port = await freePort();
    proc = spawnServer({ PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir });
    const res = await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200);
    expect(await res.json()).to.deep.equal({ status: 'ok' });
    // The log is written in batches (at most 100 ms late): the admin line comes first, the mode line last.
    await proc.waitForOutput(/embedded mode: embedded SQLite/);
    const output = proc.output();
    expect(output.match(/embedded mode: embedded SQLite/g), 'one embedded-mode line').to.have.length(1);
    expect(existsSync(path.join(dataDir, 'idp.sqlite'))).to.equal(true);

    // First start on an empty database: an admin with a one-time password in a file the log names.
    const passwordFile = path.join(dataDir, 'admin-password.txt');
    expect(output).to.include(passwordFile);
    const password = readFileSync(passwordFile, 'utf8').trim();
    expect(password.length).to.be.at.least(16);
    expect(output, 'the password itself is never logged').not.to.include(password);

    proc.kill('SIGTERM');
    expect(await proc.exited).to.equal(0);
    expect(proc.output()).to.match(/"msg":"stopped"/);

    // A second start finds the admin and creates no other.
    proc = spawnServer({ PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir });
    await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200);
    await proc.waitForOutput(/embedded mode/);
    expect(proc.output()).not.to.include('admin-password.txt');
    proc.kill('SIGTERM');
    expect(await proc.exited).to.equal(0);
  });

  it('keeps the embedded data folder private: folders 0700, every file 0600, also a folder an older version left open', async () => {
    const dataDir = path.join(tempDataDir(), 'data');
    const port = await freePort();
    const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);
    const modes = (dir: string): Record<string, string> => {
      const out: Record<string, string> = { [path.relative(dataDir, dir) || '.']: mode(dir) };
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) Object.assign(out, modes(full));
        else out[path.relative(dataDir, full)] = mode(full);
      }
      return out;
    };
    const start = async (): Promise<ServerProcess> => {
      proc = spawnServer({ PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, COMPAT_PROFILES: '/auth=auth-service' });
      await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200);
      return proc;
    };
    const signUp = async (name: string) => {
      const res = await fetch(`http://127.0.0.1:${port}/auth/signup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: name, email: `${name}@example.com`, password: 'a-long-enough-password' }),
      });
      expect(res.status).to.equal(200);
    };
    const waitForMails = async (count: number) => {
      const outbox = path.join(dataDir, 'outbox');
      for (let i = 0; i < 100 && !(existsSync(outbox) && readdirSync(outbox).length >= count); i += 1) await new Promise((r) => setTimeout(r, 100));
      expect(readdirSync(outbox)).to.have.length(count);
    };

    let running = await start();
    await signUp('modes1');
    await waitForMails(1);
    const first = modes(dataDir);
    for (const name of ['idp.sqlite', 'idp.sqlite-wal', 'idp.sqlite-shm', 'cookie-keys.json', 'admin-password.txt']) {
      expect(first[name], name).to.equal('600');
    }
    expect(Object.entries(first).filter(([, m]) => m !== '600' && m !== '700'), 'nothing else').to.deep.equal([]);
    expect(first['.']).to.equal('700');
    expect(first.outbox).to.equal('700');
    running.kill('SIGTERM');
    expect(await running.exited).to.equal(0);

    // What an older version left: everything readable by anyone.
    for (const [name, m] of Object.entries(modes(dataDir))) chmodSync(path.join(dataDir, name), m === '700' ? 0o755 : 0o644);
    running = await start();
    await signUp('modes2');
    await waitForMails(2);
    const again = modes(dataDir);
    expect(Object.entries(again).filter(([name, m]) => m !== (statSync(path.join(dataDir, name)).isDirectory() ? '700' : '600'))).to.deep.equal([]);
    expect(again['idp.sqlite-wal']).to.equal('600');
    running.kill('SIGTERM');
    expect(await running.exited).to.equal(0);
  });

  it('stores the signing keys encrypted with KEY_ENCRYPTION_KEY, and stops with one line under another key or none', async () => {
    const dataDir = tempDataDir();
    const port = await freePort();
    const env = { PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir };
    const key = randomBytes(32).toString('base64');
    proc = spawnServer({ ...env, KEY_ENCRYPTION_KEY: key });
    await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200);
    const jwks = (await (await fetch(`http://127.0.0.1:${port}/oidc/jwks`)).json()) as { keys: { kid: string }[] };
    proc.kill('SIGTERM');
    expect(await proc.exited).to.equal(0);
    const database = createSequelize({ url: `sqlite:${path.join(dataDir, 'idp.sqlite')}` });
    try {
      const [rows] = (await database.query('SELECT kid, private_jwk FROM signing_keys')) as [{ kid: string; private_jwk: string }[], unknown];
      expect(rows.map((row) => row.kid).sort()).to.deep.equal(jwks.keys.map((k) => k.kid).sort());
      for (const row of rows) expect(row.private_jwk).to.match(/^enc:v1:/);
    } finally {
      await database.close();
    }

    for (const [other, message] of [
      [randomBytes(32).toString('hex'), /^configuration error: KEY_ENCRYPTION_KEY: signing key \S+ was sealed with a different KEY_ENCRYPTION_KEY \(key id [\w-]+; the configured key has id [\w-]+\)$/],
      ['', /^configuration error: KEY_ENCRYPTION_KEY: signing key \S+ is stored encrypted, but KEY_ENCRYPTION_KEY is not set$/],
    ] as const) {
      proc = spawnServer({ ...env, KEY_ENCRYPTION_KEY: other });
      expect(await proc.exited).to.equal(1);
      expect(proc.output().trim().split('\n'), proc.output()).to.have.length(1);
      expect(proc.output().trim()).to.match(message);
    }

    // The right key again: it starts, with the same keys.
    proc = spawnServer({ ...env, KEY_ENCRYPTION_KEY: key });
    await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200);
    expect(await (await fetch(`http://127.0.0.1:${port}/oidc/jwks`)).json()).to.deep.equal(jwks);
  });

  it('uses PostgreSQL and Redis when DATABASE_URL and REDIS_URL are set, with the given admin', async () => {
    const database = await createTestDatabase('postgres', { migrate: false });
    cleanups.push(() => database.drop());
    const port = await freePort();
    proc = spawnServer({
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: tempDataDir(),
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      ADMIN_EMAIL: 'Root@Example.com',
      ADMIN_PASSWORD: 'a-long-admin-password',
    });
    await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200);
    await proc.waitForOutput(/using PostgreSQL, Redis/);
    expect(proc.output()).not.to.include('embedded mode');
    const [rows] = await database.sequelize.query(
      `SELECT u.email FROM users u JOIN user_roles ur ON ur.user_id = u.id JOIN roles r ON r.id = ur.role_id WHERE r.name = 'idp_admin'`,
    );
    expect(rows).to.deep.equal([{ email: 'root@example.com' }]);
    proc.kill('SIGTERM');
    expect(await proc.exited).to.equal(0);
  });

  it('refuses to start in production with the embedded database and store or default secrets', async () => {
    proc = spawnServer({ NODE_ENV: 'production', PORT: String(await freePort()), DATA_DIR: tempDataDir(), COOKIE_KEYS: 'changeme' });
    expect(await proc.exited).to.equal(1);
    const lines = proc.output().trim().split('\n');
    expect(lines).to.have.length(6);
    expect(lines[0]).to.match(/^configuration error: DATABASE_URL: /);
    expect(lines[1]).to.match(/^configuration error: REDIS_URL: /);
    expect(lines[2]).to.match(/^configuration error: PUBLIC_URL: required in production/);
    expect(lines[3]).to.match(/^configuration error: COOKIE_KEYS: /);
    expect(lines[4]).to.match(/^configuration error: KEY_ENCRYPTION_KEY: required in production/);
    expect(lines[5]).to.match(/^configuration error: METRICS_TOKEN: required in production/);
  });

  it('refuses to start in production with a plain-http PUBLIC_URL, repetitive cookie keys or a guessable admin password', async () => {
    proc = spawnServer({
      NODE_ENV: 'production',
      PORT: String(await freePort()),
      DATA_DIR: tempDataDir(),
      DATABASE_URL: 'postgres://idp@127.0.0.1:1/idp',
      REDIS_URL: 'redis://127.0.0.1:1',
      PUBLIC_URL: 'http://id.example.com',
      COOKIE_KEYS: 'k'.repeat(32),
      ADMIN_PASSWORD: 'Password1',
      KEY_ENCRYPTION_KEY: 'e'.repeat(64),
      METRICS_TOKEN: 'a-long-enough-scrape-token',
    });
    expect(await proc.exited).to.equal(1);
    expect(proc.output().trim().split('\n')).to.deep.equal([
      'configuration error: PUBLIC_URL: must be https:// in production (plain http only for localhost or 127.0.0.1)',
      'configuration error: COOKIE_KEYS: every key must be a random value of at least 32 characters, 16 or more of them distinct',
      'configuration error: ADMIN_PASSWORD: too easy to guess (strength 0 of 4, at least 3 needed in production)',
    ]);
  });

  it('stops on bad configuration with exit code 1 and one line per bad key', async () => {
    proc = spawnServer({ PORT: 'eighty', ACCESS_TOKEN_TTL: 'forever', DATA_DIR: tempDataDir() });
    expect(await proc.exited).to.equal(1);
    const lines = proc.output().trim().split('\n');
    expect(lines).to.have.length(2);
    expect(lines[0]).to.match(/^configuration error: PORT: /);
    expect(lines[1]).to.match(/^configuration error: ACCESS_TOKEN_TTL: /);
  });

  it('answers /readyz 503 naming the store while its Redis is down, and 200 again when it returns, without a restart', async function () {
    if (!(await redisServerAvailable())) {
      if (process.env.REQUIRE_SERVICES === '1') throw new Error('redis-server is not installed');
      this.skip();
    }
    const redis = await startRedisServer({ port: 7001 });
    cleanups.push(() => redis.stop());
    const port = await freePort();
    proc = spawnServer({ PORT: String(port), HOST: '127.0.0.1', DATA_DIR: tempDataDir(), REDIS_URL: redis.url, LOG_LEVEL: 'warn' });
    const readyz = `http://127.0.0.1:${port}/readyz`;
    await waitForStatus(readyz, 200);

    await redis.stop();
    const down = await waitForStatus(readyz, 503, 10_000);
    expect(await down.json()).to.deep.equal({ status: 'unavailable', failed: ['store'] });
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).to.equal(200);

    await redis.restart();
    const started = Date.now();
    await waitForStatus(readyz, 200, 10_000);
    expect(Date.now() - started).to.be.below(5_000);
    expect(proc.child.exitCode, 'the server never restarted').to.equal(null);
  });

  it('on SIGTERM lets a login whose client has gone finish, audited as abandoned, before it closes the database', async () => {
    const dataDir = tempDataDir();
    const port = await freePort();
    const admin = { email: 'root@example.com', password: 'a-long-admin-password' };
    // A slow hash (about half a second), so the login is still running when the server is told to stop.
    proc = spawnServer({ PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_EMAIL: admin.email, ADMIN_PASSWORD: admin.password, ARGON2_TIME_COST: '40' });
    await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200);

    // The client gives up (its socket closed) while its login waits for the hash; the server is told to stop.
    const body = JSON.stringify({ username: admin.email, password: admin.password });
    const request = http.request({ host: '127.0.0.1', port, path: '/auth/login', method: 'POST', headers: { 'content-type': 'application/json' } });
    request.on('error', () => {});
    request.end(body);
    await new Promise((resolve) => setTimeout(resolve, 50));
    request.destroy();
    proc.kill('SIGTERM');
    expect(await proc.exited).to.equal(0);

    const database = createSequelize({ url: `sqlite:${path.join(dataDir, 'idp.sqlite')}` });
    try {
      // The hash was running when its client left: it finishes, and the login is recorded (before the database
      // closed) as abandoned, never as a sign-in; no session was started for it.
      const [rows] = (await database.query(`SELECT outcome, detail FROM audit_events WHERE type = 'login'`)) as [{ outcome: string; detail: unknown }[], unknown];
      expect(rows.map((row) => row.outcome)).to.deep.equal(['failure']);
      expect(JSON.stringify(rows[0]?.detail)).to.include('abandoned');
    } finally {
      await database.close();
    }
    expect(proc.output()).not.to.match(/audit event.*(lost|not written)|could not write/i);
  });
});
