/**
 * `node bench/statements.ts` — what one request costs the shared services, for the README's sizing guide:
 * PostgreSQL statements and Redis commands per password login, `/auth/me`, legacy refresh and OIDC
 * client_credentials grant. The product runs in this process (built as `npm start` builds it, PostgreSQL
 * and its own Redis as in `npm run bench`); every query that reaches the `pg` driver is counted, and Redis
 * commands are read from the server's own INFO commandstats.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Redis } from 'ioredis';
import { createServerApp } from '../src/server.ts';
import { BENCH_PASSWORD, benchUsername } from './lib/database.ts';
import { cleanupAll, cleanupOnSignals } from './lib/cleanup.ts';
import { CLIENT_ID, mintAccessTokens, mintRefreshTokens, prepareEnvironment } from './lib/fixtures.ts';
import { basicAuth } from './lib/scenarios.ts';

const SAMPLES = 20;
const log = (line: string) => console.error(`[statements] ${line}`);

// The driver Sequelize loads (CommonJS), whose Client every statement goes through.
const pg = createRequire(import.meta.url)('pg') as { Client: { prototype: { query: (...args: unknown[]) => unknown } } };
let queries = 0;
/** The statements' first words (`SELECT … FROM "users"`), counted, to say what a request's statements are. */
const kinds = new Map<string, number>();
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function counted(this: unknown, ...args: unknown[]) {
  queries += 1;
  const first = args[0];
  const sql = typeof first === 'string' ? first : (first as { text?: string } | undefined)?.text ?? '';
  const kind = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? '?';
  const table = /\b(?:FROM|INTO|UPDATE)\s+"?(\w+)"?/i.exec(sql)?.[1] ?? '';
  kinds.set(`${kind} ${table}`.trim(), (kinds.get(`${kind} ${table}`.trim()) ?? 0) + 1);
  return query.apply(this, args);
};

async function redisCommands(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  // Lines like `cmdstat_get:calls=12,usec=…`; INFO itself is not the product's.
  return [...info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)].filter(([, name]) => name !== 'info').reduce((sum, [, , calls]) => sum + Number(calls), 0);
}

cleanupOnSignals();
const dir = mkdtempSync(path.join(tmpdir(), 'idp-statements-'));
try {
  const env = await prepareEnvironment({ dir, users: SAMPLES * 2, databaseUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres', log });
  const { server } = await createServerApp(env.deps);
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const redis = new Redis(env.redis.url);
  const auth = basicAuth(CLIENT_ID, env.clientSecret);

  const measure = async (name: string, run: (i: number) => Promise<Response>): Promise<string> => {
    await run(SAMPLES).then((res) => res.arrayBuffer()); // warm: first-use caches (client, keys, routes)
    await new Promise((resolve) => setTimeout(resolve, 300));
    kinds.clear();
    const before = { queries, redis: await redisCommands(redis) };
    for (let i = 0; i < SAMPLES; i += 1) {
      const res = await run(i);
      await res.arrayBuffer();
      if (res.status >= 300) throw new Error(`${name}: status ${res.status}`);
    }
    // Audit rows are written in small batches after the answer.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const after = { queries, redis: await redisCommands(redis) };
    const what = [...kinds].map(([kind, count]) => `${kind} ×${(count / SAMPLES).toFixed(2)}`).join(', ') || '—';
    return `| ${name} | ${((after.queries - before.queries) / SAMPLES).toFixed(1)} (${what}) | ${((after.redis - before.redis) / SAMPLES).toFixed(1)} |`;
  };

  const json = (body: unknown, headers: Record<string, string> = {}) => ({ method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const tokens = await mintAccessTokens(env, env.users.slice(0, SAMPLES + 1));
  const refresh = await mintRefreshTokens(env, SAMPLES + 1, Date.now() + 30_000);
  const rows = [
    await measure('`POST /auth/login` (password, argon2id)', (i) => fetch(`${base}/auth/login`, json({ username: benchUsername(i + 1), password: BENCH_PASSWORD }, { 'x-forwarded-for': `10.9.0.${i + 1}` }))),
    await measure('`GET /auth/me`', (i) => fetch(`${base}/auth/me`, { headers: { authorization: `Bearer ${tokens[i]}` } })),
    await measure('`POST /auth/refresh`', (i) => fetch(`${base}/auth/refresh`, json({ refresh_token: refresh[i] }))),
    await measure('`POST /oidc/token` client_credentials', () =>
      fetch(`${base}/oidc/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth }, body: 'grant_type=client_credentials' })),
  ];
  console.log(['| request | PostgreSQL statements | Redis commands |', '|---|---|---|', ...rows].join('\n'));
  redis.disconnect();
  await new Promise((resolve) => server.close(resolve));
} catch (err) {
  console.error(`statements failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
} finally {
  await cleanupAll();
  rmSync(dir, { recursive: true, force: true });
}
