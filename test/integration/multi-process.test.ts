/**
 * Several server processes sharing one PostgreSQL and one Redis (CONTRACT §8: everything a request
 * needs lives there): two instances on two ports, and WORKERS=2 behind one port (src/cluster.ts).
 * The processes are the real entry point (`node src/main.ts`) with their own redis-server, so the
 * shared test Redis and its rate-limit counters are untouched.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnServer, waitForStatus, type ServerProcess } from '../helpers/process.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { redisServerAvailable, startRedisServer, type RedisServer } from '../helpers/redis.ts';
import { legacyClient, newUser, PROFILE_ADAPTERS } from '../helpers/legacy-client.ts';
import { servicesRequired } from '../helpers/database.ts';

const AUTH_SERVICE = PROFILE_ADAPTERS[0] as (typeof PROFILE_ADAPTERS)[number];
const PORTS = { redis: 7510, first: 7651, second: 7652, workers: 7653 };

/** One request on a connection of its own, so node:cluster's round robin hands it to the next worker. */
function freshConnection(url: string, options: { method?: string; token?: string; requestId?: string } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { connection: 'close' };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.requestId) headers['x-request-id'] = options.requestId;
    const req = http.request(url, { method: options.method ?? 'GET', agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The pid of the process that logged the access line of the request with this id. */
function servedBy(output: string, requestId: string): number | undefined {
  for (const line of output.split('\n')) {
    if (!line.includes(`"reqId":"${requestId}"`) || !line.includes('"msg":"request"')) continue;
    return (JSON.parse(line) as { pid: number }).pid;
  }
  return undefined;
}

describe('several server processes sharing PostgreSQL and Redis', function () {
  this.timeout(90_000);
  let database: TestDatabase;
  let redis: RedisServer;
  let dataDir: string;
  const processes: ServerProcess[] = [];

  before(async function () {
    if (!(await redisServerAvailable())) {
      if (servicesRequired()) throw new Error('redis-server is not installed; REQUIRE_SERVICES=1 makes this a failure');
      this.skip();
    }
    database = await createTestDatabase('postgres', { mocha: this });
    redis = await startRedisServer({ port: PORTS.redis });
    dataDir = mkdtempSync(path.join(tmpdir(), 'idp-multi-'));
  });

  afterEach(async () => {
    for (const proc of processes.splice(0)) {
      if (proc.child.exitCode === null) {
        proc.kill('SIGKILL');
        await proc.exited;
      }
    }
  });

  after(async () => {
    await redis?.stop();
    await database?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  function env(port: number, extra: Record<string, string> = {}): Record<string, string> {
    return {
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      // One public address for every instance, as behind a load balancer: tokens name it as their issuer.
      PUBLIC_URL: 'http://idp.multi-process.test',
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      // Every instance must sign and check cookies with the same keys.
      COOKIE_KEYS: 'multi-process-test-cookie-key-0123456789abcdef',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      ...extra,
    };
  }

  async function start(port: number, extra?: Record<string, string>): Promise<ServerProcess> {
    const proc = spawnServer(env(port, extra));
    processes.push(proc);
    await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 30_000);
    return proc;
  }

  it('serves a login made on one instance at /me on the other, and a logout on the other ends it on both', async () => {
    // Started together: they share the migrations (advisory lock) and the first signing keys.
    await Promise.all([start(PORTS.first), start(PORTS.second)]);
    const first = legacyClient(`http://127.0.0.1:${PORTS.first}`, AUTH_SERVICE);
    const second = legacyClient(`http://127.0.0.1:${PORTS.second}`, AUTH_SERVICE);

    const user = newUser('multi');
    await first.register(user);
    const tokens = await first.login(user);

    const me = await second.get('/me', { token: tokens.access });
    expect(me.status).to.equal(200);
    expect(me.body).to.include({ username: user.username, email: user.email.toLowerCase(), is_active: true });

    // The refresh token minted by the first rotates on the second; the old one is then spent on both.
    const refreshed = await second.post('/refresh', { json: { refresh_token: tokens.refresh } });
    expect(refreshed.status).to.equal(200);
    const next = AUTH_SERVICE.tokens(refreshed.body);
    expect((await first.get('/me', { token: next.access })).status).to.equal(200);

    const logout = await second.post('/logout', { token: next.access, json: {} });
    expect(logout.status).to.equal(200);
    for (const client of [first, second]) {
      expect((await client.get('/me', { token: tokens.access })).status, 'old access token').to.equal(401);
      expect((await client.get('/me', { token: next.access })).status, 'new access token').to.equal(401);
      expect((await client.post('/refresh', { json: { refresh_token: next.refresh } })).status).to.equal(401);
    }
  });

  it('runs WORKERS=2 behind one port: requests reach both workers, which share the sessions, and SIGTERM stops them all', async () => {
    const proc = await start(PORTS.workers, { WORKERS: '2' });
    await proc.waitForOutput(/"msg":"2 workers listening"/);
    // Each process writes its log in batches (at most 100 ms late): wait for both workers' lines.
    await proc.waitForOutput(/"msg":"listening on[\s\S]*"msg":"listening on/);
    const workerPids = new Set([...proc.output().matchAll(/"pid":(\d+),[^\n]*"msg":"listening on/g)].map((match) => Number(match[1])));
    expect(workerPids.size, 'two worker processes listening').to.equal(2);

    const base = `http://127.0.0.1:${PORTS.workers}`;
    const client = legacyClient(base, AUTH_SERVICE);
    const user = newUser('workers');
    await client.register(user);
    const tokens = await client.login(user);

    // A new connection per request: the primary deals them out in turn, so both workers serve /me.
    const ids = Array.from({ length: 6 }, () => `multi-${randomBytes(6).toString('hex')}`);
    for (const requestId of ids) {
      const res = await freshConnection(`${base}/auth/me`, { token: tokens.access, requestId });
      expect(res.status).to.equal(200);
    }
    for (const id of ids) await proc.waitForOutput(new RegExp(`"reqId":"${id}"`));
    const servers = new Set(ids.map((id) => servedBy(proc.output(), id)));
    expect([...servers].every((pid) => pid !== undefined && workerPids.has(pid)), 'served by the workers').to.equal(true);
    expect(servers.size, 'both workers served /me').to.equal(2);

    // Logged out through one worker, the token fails at every worker.
    expect((await freshConnection(`${base}/auth/logout`, { method: 'POST', token: tokens.access })).status).to.equal(200);
    for (let i = 0; i < 4; i += 1) {
      expect((await freshConnection(`${base}/auth/me`, { token: tokens.access })).status).to.equal(401);
    }

    proc.kill('SIGTERM');
    expect(await proc.exited).to.equal(0);
    expect(proc.output()).to.match(/"msg":"all workers stopped"/);
    for (const pid of workerPids) {
      expect(() => process.kill(pid, 0), `worker ${pid} is gone`).to.throw();
    }
  });

  it('refuses WORKERS above 1 with the in-process store, naming the setting', async () => {
    const proc = spawnServer({ NODE_ENV: 'test', HOST: '127.0.0.1', PORT: String(PORTS.workers), DATA_DIR: dataDir, WORKERS: '2', LOG_LEVEL: 'info' });
    processes.push(proc);
    expect(await proc.exited).to.equal(1);
    expect(proc.output()).to.match(/configuration error: WORKERS: .*REDIS_URL/);
  });
});
