/**
 * `npm run bench -- --scale`: does the product hold as the population grows? Two worlds side by side —
 * 1,000 users, and 1,000,000 users with 1,000,000 live sessions (bench/seed.ts) — each with its own
 * database, Redis and server; login, GET /auth/me and listing one user's 50 sessions are measured in
 * both, in turns. Also Redis memory per session (measured while seeding) and the servers' resident
 * memory under load. Prints one table: the two figures, the change, the target.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { allUserIds, BENCH_PASSWORD, benchUsername, userIds } from './lib/database.ts';
import { mintAccessTokens, prepareEnvironment, startProduct, type BenchEnvironment } from './lib/fixtures.ts';
import { runLoad, writePool, type Measurement } from './lib/load.ts';
import type { Managed } from './lib/processes.ts';
import { sampleRss } from './lib/rss.ts';
import * as scenario from './lib/scenarios.ts';
import { seedManyUsers, seedSessions, usedMemory } from './seed.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const SMALL = 1000;
const DEFAULT_LARGE = 1_000_000;
const LISTED_SESSIONS = 50;
/** The 1,000-user world's Redis and server (the large one uses the bench's usual ports). */
const SMALL_WORLD_PORTS = { redis: 7501, product: 7683 };

export interface ScaleOptions {
  dir: string;
  databaseUrl: string;
  quick: boolean;
  timing: scenario.Timing;
  log: (line: string) => void;
  /** The large population (default 1,000,000): users, and as many sessions. */
  large?: number;
}

interface Phase {
  login: Measurement;
  me: Measurement;
  list: Measurement;
  rssPeak: number;
}

/** n distinct user numbers in 1..max, spread over the whole range. */
function sampleNumbers(n: number, max: number): number[] {
  const picked = new Set<number>();
  while (picked.size < Math.min(n, max)) picked.add(randomInt(1, max + 1));
  return [...picked];
}

async function measurePhase(
  env: BenchEnvironment,
  product: Managed,
  ids: readonly string[],
  lister: { token: string; number: number },
  options: ScaleOptions,
  tag: string,
): Promise<Phase> {
  const population = ids.length;
  const { pid } = product;
  const { dir, timing } = options;
  const url = env.config.publicUrl;
  const rss = sampleRss(pid);
  // The lister is left out of the logins, so it keeps exactly its 50 sessions.
  const loginNumbers = sampleNumbers(1000, population).filter((n) => n !== lister.number);
  const bodies = loginNumbers.map((n) => JSON.stringify({ username: benchUsername(n), password: BENCH_PASSWORD }));
  // 200 users spread over the whole population, each with a fresh session (their accounts not cached yet).
  const meUsers = ids.filter((_, i) => i % Math.max(1, Math.floor(population / 200)) === 0).slice(0, 200);
  options.log(`${population.toLocaleString('en')} users: GET /auth/sessions (50 sessions)…`);
  const list = await runLoad(dir, scenario.bearerGet(`${url}/auth/sessions`, writePool(dir, `list-${tag}`, [lister.token]), timing), pid);
  options.log(`${population.toLocaleString('en')} users: GET /auth/me…`);
  const me = await runLoad(dir, scenario.bearerGet(`${url}/auth/me`, writePool(dir, `me-${tag}`, await mintAccessTokens(env, meUsers)), timing), pid);
  options.log(`${population.toLocaleString('en')} users: POST /auth/login…`);
  const login = await runLoad(dir, scenario.login(`${url}/auth/login`, writePool(dir, `login-${tag}`, bodies), timing), pid);
  rss.stop();
  if (product.child.exitCode !== null || product.child.signalCode !== null) {
    throw new Error(`${product.name} exited under load; its last output:\n${product.output()}`);
  }
  return { login, me, list, rssPeak: rss.overall() };
}

/** The user #`number`, with `count` live sessions and the access token of the last one. */
async function listerWithSessions(env: BenchEnvironment, number: number, count: number): Promise<{ token: string; number: number }> {
  const [id] = await userIds(env.database.sequelize, number, number);
  if (!id) throw new Error(`user ${number} is missing`);
  const [token] = await mintAccessTokens(env, Array.from({ length: count }, () => id)).then((tokens) => tokens.slice(-1));
  return { token: token as string, number };
}

interface Line {
  metric: string;
  small: string;
  large: string;
  change: string;
  target: string;
  met: string;
}

function compare(metric: string, small: number, large: number, digits = 0): Line {
  const change = (large - small) / small;
  return {
    metric,
    small: small.toFixed(digits),
    large: large.toFixed(digits),
    change: `${change >= 0 ? '+' : ''}${(change * 100).toFixed(1)}%`,
    target: 'within 10 %',
    met: change >= -0.1 ? 'yes' : 'NO',
  };
}

function render(lines: Line[], large: number): string {
  const header: Line = { metric: 'metric', small: `${SMALL.toLocaleString('en')} users`, large: `${large.toLocaleString('en')} users`, change: 'change', target: 'target', met: 'met?' };
  const keys = Object.keys(header) as (keyof Line)[];
  const widths = keys.map((key) => Math.max(...[header, ...lines].map((line) => line[key].length)));
  const row = (line: Line) => keys.map((key, i) => (i === 0 ? line[key].padEnd(widths[i] ?? 0) : line[key].padStart(widths[i] ?? 0))).join('  ');
  return [row(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(row)].join('\n');
}

export async function runScale(options: ScaleOptions): Promise<void> {
  const { log } = options;
  const LARGE = options.large ?? DEFAULT_LARGE;
  const started = Date.now();
  // Two worlds side by side, each with its own database, Redis and server, measured in turns: on a
  // shared machine, figures taken minutes apart differ more than the population makes them differ.
  const small = await prepareEnvironment({ dir: path.join(options.dir, 'small'), users: SMALL, databaseUrl: options.databaseUrl, log, ports: SMALL_WORLD_PORTS });
  const large = await prepareEnvironment({ dir: path.join(options.dir, 'large'), users: SMALL, databaseUrl: options.databaseUrl, log });

  // The seed: bounded in time, so a slow machine reports how far it got instead of running on.
  const deadline = Date.now() + (options.quick ? 3 : 6) * 60_000;
  log('seeding users…');
  const users = await seedManyUsers(large.database.sequelize, { from: SMALL + 1, to: LARGE, passwordHash: large.passwordHash, deadline, log });
  const population = SMALL + users.inserted;
  const redis = large.deps.store.redis;
  if (!redis) throw new Error('the scale bench needs the Redis store');
  const ids = await allUserIds(large.database.sequelize);
  const before = await usedMemory(redis);
  log('seeding sessions…');
  const sessionStarted = Date.now();
  const sessionCount = await seedSessions({
    redis,
    userIds: ids,
    count: LARGE,
    ttlSeconds: large.config.tokens.refreshTokenTtl,
    withRefreshTokens: false,
    deadline,
    onBatch: (done) => done % 200_000 === 0 && log(`sessions: ${done.toLocaleString('en')}`),
  });
  const afterSessions = await usedMemory(redis);
  const sessionSeconds = (Date.now() - sessionStarted) / 1000;
  const perSession = (afterSessions - before) / Math.max(1, sessionCount);
  log(`seeded ${population.toLocaleString('en')} users (${users.seconds.toFixed(0)} s) and ${sessionCount.toLocaleString('en')} sessions (${sessionSeconds.toFixed(0)} s)`);

  // A login also stores a refresh-token record: one per session, measured on its own (the same count, so
  // the growth of Redis's key table is shared out the same way).
  log('seeding refresh-token records…');
  const beforeRefresh = await usedMemory(redis);
  const refreshed = await seedRefreshOnly(large, ids, sessionCount, deadline + 60_000);
  const perRefresh = (await usedMemory(redis)) - beforeRefresh;

  const listers = [await listerWithSessions(small, SMALL, LISTED_SESSIONS), await listerWithSessions(large, SMALL, LISTED_SESSIONS)] as const;
  const products = [await startProduct(small), await startProduct(large)] as const;
  const smallIds = small.users;
  const rounds = options.quick ? 1 : 2;
  const phases: { small: Phase[]; large: Phase[] } = { small: [], large: [] };
  for (let round = 1; round <= rounds; round += 1) {
    const measureSmall = async () => phases.small.push(await measurePhase(small, products[0], smallIds, listers[0], options, `s${round}`));
    const measureLarge = async () => phases.large.push(await measurePhase(large, products[1], ids, listers[1], options, `l${round}`));
    // Every other round in the other order, so neither world always follows the other's logins.
    if (round % 2 === 1) {
      await measureSmall();
      await measureLarge();
    } else {
      await measureLarge();
      await measureSmall();
    }
  }
  await Promise.all(products.map((product) => product.stop()));

  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
  const average = (list: Phase[], pick: (phase: Phase) => Measurement): Measurement => {
    const all = list.map(pick);
    const last = all[all.length - 1] as Measurement;
    return { ...last, rps: mean(all.map((m) => m.rps)), cpuUs: mean(all.map((m) => m.cpuUs ?? NaN)), failed: mean(all.map((m) => m.failed)), errors: mean(all.map((m) => m.errors)) };
  };
  const a = { login: average(phases.small, (p) => p.login), me: average(phases.small, (p) => p.me), list: average(phases.small, (p) => p.list) };
  const b = { login: average(phases.large, (p) => p.login), me: average(phases.large, (p) => p.me), list: average(phases.large, (p) => p.list) };
  const rssSmall = Math.max(...phases.small.map((p) => p.rssPeak));
  const rssLarge = Math.max(...phases.large.map((p) => p.rssPeak));

  // Server CPU per request: what the population costs the server itself, whatever else the machine does.
  const cpu = (metric: string, x: Measurement, y: Measurement): Line => {
    const line = compare(metric, x.cpuUs ?? NaN, y.cpuUs ?? NaN);
    const change = ((y.cpuUs ?? 0) - (x.cpuUs ?? 0)) / (x.cpuUs ?? 1);
    return { ...line, target: 'within 10 %', met: change <= 0.1 ? 'yes' : 'NO' };
  };
  const lines: Line[] = [
    compare('POST /auth/login req/s', a.login.rps, b.login.rps),
    cpu('  server CPU µs per login', a.login, b.login),
    compare('GET /auth/me req/s', a.me.rps, b.me.rps),
    cpu('  server CPU µs per /auth/me', a.me, b.me),
    compare(`GET /auth/sessions (${LISTED_SESSIONS} sessions) req/s`, a.list.rps, b.list.rps),
    cpu('  server CPU µs per listing', a.list, b.list),
    {
      metric: `GET /auth/sessions p50 / p99 ms`,
      small: `${a.list.p50} / ${a.list.p99}`,
      large: `${b.list.p50} / ${b.list.p99}`,
      change: '—',
      target: '—',
      met: '—',
    },
    {
      metric: 'Redis memory per session (record + index)',
      small: '—',
      large: `${perSession.toFixed(0)} B`,
      change: '—',
      target: '≤ 1024 B',
      met: perSession <= 1024 ? 'yes' : 'NO',
    },
    {
      metric: '  + the refresh-token record of its login',
      small: '—',
      large: `${(perRefresh / Math.max(1, refreshed)).toFixed(0)} B`,
      change: '—',
      target: '—',
      met: '—',
    },
    {
      metric: 'server RSS peak under load',
      small: `${(rssSmall / 1048576).toFixed(0)} MB`,
      large: `${(rssLarge / 1048576).toFixed(0)} MB`,
      change: '—',
      target: '≤ 250 MB',
      met: Math.max(rssSmall, rssLarge) <= 250 * 1048576 ? 'yes' : 'NO',
    },
  ];
  const failures = [...phases.small, ...phases.large].flatMap((phase) => [phase.login, phase.me, phase.list]).reduce((sum, m) => sum + m.failed + m.errors, 0);
  const notes = [
    `population: ${population.toLocaleString('en')} users (seeded in ${users.seconds.toFixed(0)} s), ${sessionCount.toLocaleString('en')} sessions (${sessionSeconds.toFixed(0)} s)${population < LARGE || sessionCount < LARGE ? ' — the seed hit its deadline' : ''}`,
    `two worlds (own database, Redis and server each), measured in turns, ${rounds} round(s); figures are means over the rounds`,
    `non-2xx responses or errors: ${failures}`,
    `${options.timing.connections} connections; ${options.timing.warmupSeconds} s warm-up + ${options.timing.seconds} s per measurement; servers on core 0, load on core 1`,
    `total ${((Date.now() - started) / 1000).toFixed(0)} s`,
  ];
  const text = `${render(lines, population)}\n\n${notes.join('\n')}`;
  console.log(`\n${text}`);
  mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(path.join(ROOT, 'bench/results/scale-latest.md'), `Command: \`node bench/run.ts --scale${options.quick ? ' --quick' : ''}\` — ${new Date().toISOString()}\n\n\`\`\`\n${text}\n\`\`\`\n`);
}

/** `count` refresh-token records alone (no session), to measure what one costs. */
async function seedRefreshOnly(env: BenchEnvironment, ids: readonly string[], count: number, deadline: number): Promise<number> {
  let written = 0;
  const redis = env.deps.store.redis;
  if (!redis) return 0;
  const now = Date.now();
  while (written < count && Date.now() < deadline) {
    const pipeline = redis.pipeline();
    for (let i = 0; i < 5000 && written + i < count; i += 1) {
      const userId = ids[(written + i) % ids.length] as string;
      const ttlMs = env.config.tokens.refreshTokenTtl * 1000;
      const record = { user_id: userId, session_id: randomUUID(), state: 'active', created_at: new Date(now).toISOString(), expires_at: new Date(now + ttlMs).toISOString(), rotated_at: null };
      // Same shape as tokens.ts: `rt:` + the base64url SHA-256 of the token (43 characters).
      pipeline.set(`rt:${randomBytes(32).toString('base64url')}`, JSON.stringify(record), 'PX', ttlMs);
    }
    await pipeline.exec();
    written = Math.min(count, written + 5000);
  }
  return written;
}
