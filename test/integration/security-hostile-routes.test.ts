/**
 * No request can stop or stall the server (CONTRACT §6, issue 11): every route that takes a body — the
 * legacy mounts, the admin API, the admin console's forms, the interaction pages (second factor and sign-up
 * included), the account pages and oidc-provider's
 * endpoints (the authorization and end-session POSTs included) — gets an oversized body, JSON nested
 * 10,000 deep, a wrong content type and a request cut off mid-body. After each, a fresh connection's
 * `GET /healthz` must answer within 100 ms, and the server must still be the same process (pid), or
 * the same set of worker processes with WORKERS=2. The server is the real entry point in a child
 * process, in both modes and with two workers. Then, in process: `onboarding_data`'s bounds, and an
 * error oidc-provider raises outside a redirect (a device form without a session) rendered as a page.
 */
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ROUTES } from '../../src/http/legacy/operations.ts';
import { ALL_PROFILES, PROFILE_ADAPTERS, legacyClient } from '../helpers/legacy-client.ts';
import { freePort, MODES, startServerWith, type TestServer } from '../helpers/app.ts';
import { captureLogs } from '../helpers/log-capture.ts';
import { createTestDatabase, servicesRequired, type TestDatabase } from '../helpers/database.ts';
import { spawnServer, waitForStatus, type ServerProcess } from '../helpers/process.ts';
import { redisServerAvailable, startRedisServer, type RedisServer } from '../helpers/redis.ts';

const SRC = path.resolve(import.meta.dirname, '../../src/http');
const HEALTH_BUDGET_MS = 100;
/**
 * A probe slower than the budget is repeated, with its attack, this often before it counts: a loaded test
 * machine may deschedule the server for a moment, while a stall an attack causes recurs every time.
 */
const TRIES = 5;

type Kind = 'json' | 'form';
interface RouteUnderTest {
  method: string;
  path: string;
  /** What the route reads: JSON (the APIs) or a form (pages, oidc-provider). */
  kind: Kind;
  /**
   * Who reads the body: our parser (413, 422 for deep JSON), the authorization and end-session POST reader
   * (forms only: 413, 400 for anything else), or oidc-provider's own (400 invalid_request allowed).
   */
  reader: 'app' | 'post-as-get' | 'provider';
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** `router.post('/path'` and the like in the source files under `dir`, so a new route is covered without touching this file. */
function routesIn(dir: string, prefix: string, kind: Kind, recursive: boolean): RouteUnderTest[] {
  const routes: RouteUnderTest[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (recursive) routes.push(...routesIn(file, prefix, kind, recursive));
      continue;
    }
    if (!entry.name.endsWith('.ts')) continue;
    for (const match of readFileSync(file, 'utf8').matchAll(/router\.(get|post|put|patch|delete)\('([^']+)'/g)) {
      const method = match[1]!.toUpperCase();
      if (BODY_METHODS.has(method)) routes.push({ method, path: `${prefix}${match[2]}`, kind, reader: 'app' });
    }
  }
  return routes;
}

const fill = (template: string): string => template.replace(/:[A-Za-z_]+/g, '00000000-0000-0000-0000-000000000000');

function everyRoute(): RouteUnderTest[] {
  const legacy = PROFILE_ADAPTERS.flatMap((profile) =>
    ROUTES.filter((route) => BODY_METHODS.has(route.method.toUpperCase())).map((route) => ({
      method: route.method.toUpperCase(),
      path: `${profile.prefix}${route.path}`,
      kind: 'json' as const,
      reader: 'app' as const,
    })),
  );
  const admin = routesIn(path.join(SRC, 'admin'), '/admin/api', 'json', false);
  const console = routesIn(path.join(SRC, 'admin/console'), '', 'form', false);
  const interactions = [...readFileSync(path.join(SRC, 'interactions.ts'), 'utf8').matchAll(/router\.(post)\('([^']+)'/g)].map((match) => ({
    method: 'POST',
    path: `/interaction${match[2]}`,
    kind: 'form' as const,
    reader: 'app' as const,
  }));
  // The second-factor and sign-up forms under /interaction/:uid, and the account pages' forms.
  const interactionPages = routesIn(path.join(SRC, 'interactions'), '/interaction', 'form', false);
  const account = routesIn(path.join(SRC, 'account'), '', 'form', false);
  const ours = ['/oidc/auth', '/oidc/session/end'].map((p) => ({ method: 'POST', path: p, kind: 'form' as const, reader: 'post-as-get' as const }));
  const provider = ['/oidc/token', '/oidc/token/introspection', '/oidc/token/revocation', '/oidc/device', '/oidc/device/auth', '/oidc/request', '/oidc/session/end/confirm', '/oidc/me'].map(
    (p) => ({ method: 'POST', path: p, kind: 'form' as const, reader: 'provider' as const }),
  );
  return [...legacy, ...admin, ...console, ...interactions, ...interactionPages, ...account, ...ours, ...provider].map((route) => ({ ...route, path: fill(route.path) }));
}

interface Sent {
  /** Resolves once the request has been handed to the network (or failed). */
  written: Promise<void>;
  /** The answer's status, or 0 when the connection ended without one. */
  done: Promise<number>;
}

/** One request on a connection of its own (node:cluster deals connections out in turn). */
function send(port: number, route: RouteUnderTest, contentType: string, body: string | Buffer): Sent {
  let wrote!: () => void;
  const written = new Promise<void>((resolve) => (wrote = resolve));
  const done = new Promise<number>((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: route.method, path: route.path, agent: false, headers: { 'content-type': contentType, 'content-length': Buffer.byteLength(body), accept: 'application/json' } },
      (res) => {
        res.resume();
        // 'close' also comes when the connection ends mid-answer; the first settles.
        res.on('close', () => resolve(res.statusCode ?? 0));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    req.on('finish', wrote);
    req.on('error', () => {
      wrote();
      resolve(0);
    });
    req.end(body);
  });
  return { written, done };
}

/** Headers announcing 100,000 bytes, 1,000 of them, then the connection is destroyed. */
function cutOff(port: number, route: RouteUnderTest): Sent {
  let wrote!: () => void;
  const written = new Promise<void>((resolve) => (wrote = resolve));
  const done = new Promise<number>((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      const type = route.kind === 'json' ? 'application/json' : 'application/x-www-form-urlencoded';
      const head = `${route.method} ${route.path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: ${type}\r\nContent-Length: 100000\r\n\r\n`;
      const part = route.kind === 'json' ? `{"password":"${'x'.repeat(1000)}` : `password=${'x'.repeat(1000)}`;
      socket.write(head + part, () => {
        socket.destroy();
        wrote();
        resolve(0);
      });
    });
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('close', () => {
      wrote();
      resolve(0);
    });
    socket.on('error', () => {
      wrote();
      resolve(0);
    });
  });
  return { written, done };
}

/** Milliseconds for a GET /healthz on a fresh connection; throws when it does not answer 200. */
function probeHealth(port: number): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`/healthz answered ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('/healthz did not answer within 10 s')));
    req.on('error', reject);
  });
}

interface Attack {
  name: string;
  run(port: number, route: RouteUnderTest): Sent;
  /** Statuses allowed for the route; undefined: any answer below 500 (or none, for a cut-off request). */
  expected?(route: RouteUnderTest): number[] | undefined;
}

const DEEP = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
const HUGE = 'x'.repeat(150 * 1024);
const parsedByUs = (route: RouteUnderTest): boolean => route.reader === 'app' && route.method !== 'DELETE';

const ATTACKS: Attack[] = [
  {
    name: 'an oversized body',
    run: (port, route) =>
      send(port, route, route.kind === 'json' ? 'application/json' : 'application/x-www-form-urlencoded', route.kind === 'json' ? `{"password":"${HUGE}"}` : `password=${HUGE}`),
    expected: (route) => (parsedByUs(route) || route.reader === 'post-as-get' ? [413] : route.reader === 'provider' ? [400, 413] : undefined),
  },
  {
    name: 'JSON nested 10,000 deep',
    run: (port, route) => send(port, route, 'application/json', DEEP),
    expected: (route) => (parsedByUs(route) ? [422] : route.reader === 'post-as-get' ? [400] : undefined),
  },
  { name: 'a wrong content type', run: (port, route) => send(port, route, 'application/xml', '<password>x</password>') },
  { name: 'a request cut off mid-body', run: (port, route) => cutOff(port, route) },
];

/** The attack, with /healthz probed on a fresh connection as soon as the attack is on the wire. */
async function attackAndProbe(port: number, route: RouteUnderTest, attack: Attack): Promise<void> {
  const what = `${attack.name} to ${route.method} ${route.path}`;
  let slowest = 0;
  for (let attempt = 1; attempt <= TRIES; attempt += 1) {
    const sent = attack.run(port, route);
    await sent.written;
    const [ms, status] = await Promise.all([probeHealth(port).catch((err: Error) => Promise.reject(new Error(`after ${what}: ${err.message}`))), sent.done]);
    const expected = attack.expected?.(route);
    if (expected) expect(expected, `${what}: status`).to.include(status);
    else if (status !== 0) expect(status, `${what}: status`).to.be.below(500);
    slowest = ms;
    if (ms <= HEALTH_BUDGET_MS) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect.fail(`after ${what}, /healthz took ${Math.round(slowest)} ms (budget ${HEALTH_BUDGET_MS} ms), ${TRIES} times in a row`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface Mode {
  name: string;
  services: boolean;
  workers: number;
}

const SPAWNED_MODES: Mode[] = [
  { name: 'embedded (SQLite + in-process store)', services: false, workers: 1 },
  { name: 'PostgreSQL + Redis', services: true, workers: 1 },
  { name: 'PostgreSQL + Redis, WORKERS=2', services: true, workers: 2 },
];

for (const mode of SPAWNED_MODES) {
  describe(`hostile requests to every route of a running server: ${mode.name}`, function () {
    this.timeout(180_000);
    let database: TestDatabase | undefined;
    let redis: RedisServer | undefined;
    let dataDir: string;
    let proc: ServerProcess | undefined;
    let port: number;

    before(async function () {
      this.timeout(90_000);
      const env: Record<string, string> = {};
      if (mode.services) {
        if (!(await redisServerAvailable())) {
          if (servicesRequired()) throw new Error('redis-server is not installed; REQUIRE_SERVICES=1 makes this a failure');
          this.skip();
        }
        database = await createTestDatabase('postgres', { mocha: this });
        // A Redis of its own: the shared one's rate-limit counters stay untouched.
        redis = await startRedisServer({ port: await freePort() });
        Object.assign(env, { DATABASE_URL: database.url, REDIS_URL: redis.url });
      }
      dataDir = mkdtempSync(path.join(tmpdir(), 'idp-hostile-'));
      port = await freePort();
      proc = spawnServer({
        NODE_ENV: 'test',
        HOST: '127.0.0.1',
        PORT: String(port),
        DATA_DIR: dataDir,
        LOG_LEVEL: 'info',
        COMPAT_PROFILES: ALL_PROFILES,
        WORKERS: String(mode.workers),
        ...env,
      });
      await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 60_000);
      if (mode.workers > 1) await proc.waitForOutput(/"msg":"listening on[\s\S]*"msg":"listening on/, 30_000);
    });

    after(async () => {
      if (proc && proc.child.exitCode === null) {
        proc.kill('SIGTERM');
        await Promise.race([proc.exited, new Promise((resolve) => setTimeout(resolve, 15_000))]);
        if (proc.child.exitCode === null) proc.kill('SIGKILL');
      }
      await redis?.stop();
      await database?.drop();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    it('answers every attack, keeps /healthz under 100 ms after each, and is still the same process(es)', async () => {
      const server = proc!;
      const listening = (): number[] => [...server.output().matchAll(/"pid":(\d+),[^\n]*"msg":"listening on/g)].map((m) => Number(m[1]));
      const pids = new Set(mode.workers > 1 ? listening() : [server.child.pid!]);
      expect(pids.size, 'server processes').to.equal(mode.workers);

      const routes = everyRoute();
      expect(routes.filter((r) => r.path.startsWith('/admin/api')).length, 'admin API routes').to.be.at.least(10);
      expect(routes.filter((r) => r.path.startsWith('/admin/') && !r.path.startsWith('/admin/api')).length, 'console forms').to.be.at.least(10);
      expect(routes.filter((r) => r.path.startsWith('/interaction/')).length, 'interaction forms').to.be.at.least(9);
      expect(routes.filter((r) => r.path.startsWith('/account/')).length, 'account forms').to.be.at.least(10);

      // Warm-up: the first requests of a fresh process compile their code paths.
      for (let i = 0; i < 5; i += 1) await probeHealth(port);
      for (const route of routes) {
        for (const attack of ATTACKS) await attackAndProbe(port, route, attack);
      }

      expect(server.child.exitCode, 'the server process is still running').to.equal(null);
      for (const pid of pids) expect(alive(pid), `process ${pid} is alive`).to.equal(true);
      // No process started listening after the first ones: none was replaced.
      expect(listening().filter((pid) => !pids.has(pid)), 'processes that started later').to.deep.equal([]);
      expect(server.output()).to.not.match(/uncaughtException|exited unexpectedly|"level":"fatal"/);
    });
  });
}

for (const mode of MODES) {
  describe(`bounded JSON values and provider errors, ${mode.name}`, function () {
    this.timeout(60_000);
    let database: TestDatabase;
    let server: TestServer;
    const logs = captureLogs('info');

    before(async function () {
      this.timeout(60_000);
      database = await createTestDatabase(mode.database, { mocha: this });
      server = await startServerWith({ databaseUrl: database.url, store: mode.store, logger: logs.logger });
    });
    after(async () => {
      await server?.close();
      await database?.drop();
    });

    it('PUT /users/me: onboarding_data up to 8 levels and 16 kB is stored; deeper or larger is a 422 at body.onboarding_data', async () => {
      const api = legacyClient(server.url, PROFILE_ADAPTERS[0]!);
      const { tokens } = await api.signedIn('onboarding');
      const nest = (depth: number): Record<string, unknown> => (depth === 1 ? { leaf: true } : { next: nest(depth - 1) });
      const put = (data: unknown) => api.put('/users/me', { token: tokens.access, json: { onboarding_data: data } });

      expect((await put(nest(8))).status, '8 levels').to.equal(200);
      expect((await put({ text: 'x'.repeat(16 * 1024 - 20) })).status, 'just under 16 kB').to.equal(200);
      for (const [what, data] of [
        ['9 levels', nest(9)],
        ['over 16 kB', { text: 'x'.repeat(16 * 1024) }],
      ] as const) {
        const res = await put(data);
        expect(res.status, what).to.equal(422);
        const detail = (res.body as { detail: { loc: unknown[]; type: string }[] }).detail;
        expect(detail.map((item) => item.loc), what).to.deep.equal([['body', 'onboarding_data']]);
      }
      // 7,000 levels (a 500 from the database driver's recursion before): refused before parsing.
      const deep = `{"onboarding_data":${'{"a":'.repeat(7000)}1${'}'.repeat(7000)}}`;
      const res = await fetch(`${server.url}/auth/users/me`, { method: 'PUT', headers: { authorization: `Bearer ${tokens.access}`, 'content-type': 'application/json' }, body: deep });
      expect(res.status).to.equal(422);
      expect(((await res.json()) as { detail: { type: string }[] }).detail[0]!.type).to.equal('json_invalid');
    });

    it('POST /oidc/device without a session: a 400 page or JSON with the security headers and the request id, no error logged', async () => {
      logs.clear();
      for (const accept of ['text/html', 'application/json']) {
        const res = await fetch(`${server.url}/oidc/device`, {
          method: 'POST',
          headers: { accept, 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': `device-${accept.replace('/', '-')}` },
          body: 'user_code=ABCD-EFGH',
        });
        const text = await res.text();
        expect(res.status, accept).to.equal(400);
        expect(res.headers.get('x-request-id')).to.equal(`device-${accept.replace('/', '-')}`);
        expect(res.headers.get('x-content-type-options')).to.equal('nosniff');
        expect(res.headers.get('content-security-policy')).to.include("frame-ancestors 'none'");
        if (accept === 'text/html') {
          expect(res.headers.get('content-type')).to.match(/^text\/html/);
          expect(text).to.include('This form has expired').and.include(`device-text-html`);
        } else {
          expect(JSON.parse(text)).to.include({ error: 'invalid_request' });
        }
      }
      expect(logs.lines().filter((line) => line.level === 'error' || line.level === 'fatal'), 'error lines').to.deep.equal([]);
    });
  });
}
