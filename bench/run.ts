/**
 * `npm run bench` — throughput and latency of the product's hot endpoints against baselines measured
 * in the same run, the servers pinned to core 0 and the load generator to core 1.
 *
 *   node bench/run.ts            every scenario, ~10 s each (about 3 minutes)
 *   node bench/run.ts --quick    the same, ~2.5 s each (under a minute)
 *   node bench/run.ts --only me,login --profile
 *                                some scenarios, with CPU profiles of the product server and of the
 *                                bare oidc-provider baseline (when an OIDC scenario runs)
 *   node bench/run.ts --scale    the million-user run (bench/scale.ts)
 *
 * It starts its own redis-server (port 7500) and PostgreSQL database (idp_bench_<random>, dropped at
 * the end) and stops everything it started, also on failure or Ctrl-C.
 */
import http from 'node:http';
import { copyFileSync, mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_PASSWORD, benchUsername } from './lib/database.ts';
import { cleanupAll, cleanupOnSignals } from './lib/cleanup.ts';
import {
  CLIENT_ID,
  EXCHANGE_RESOURCES,
  PORTS,
  adminToken,
  mintRevocableGrants,
  HS256_PREFIX,
  mintExchangeSubjects,
  hs256Policy,
  mintAccessTokens,
  mintProductOidcTokens,
  mintRefreshTokens,
  mintTotpLogins,
  prepareEnvironment,
  startBareKoa,
  startBareOidc,
  startProduct,
  startScriptFlags,
  type BenchEnvironment,
} from './lib/fixtures.ts';
import { combine, runLoad, writePool, SERVER_CPU, type LoadSpec, type Measurement } from './lib/load.ts';
import { canPin, runToCompletion, type Managed } from './lib/processes.ts';
import { renderProfile, summarizeProfile } from './lib/profile.ts';
import { sampleRss } from './lib/rss.ts';
import * as scenario from './lib/scenarios.ts';
import { met, renderMarkdown, renderText, type Row } from './lib/table.ts';
import { runScale } from './scale.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const SCENARIOS = ['me', 'login', 'totp', 'refresh', 'cc', 'oidc-refresh', 'userinfo', 'introspection', 'hs256', 'register', 'overload', 'exchange', 'backchannel'] as const;
type ScenarioKey = (typeof SCENARIOS)[number];

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    scale: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    only: { type: 'string' },
    seconds: { type: 'string' },
    connections: { type: 'string' },
    users: { type: 'string' },
    rounds: { type: 'string' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help) {
  console.log(`usage: node bench/run.ts [--quick] [--scale] [--profile] [--only ${SCENARIOS.join(',')}] [--seconds N] [--connections N] [--users N] [--rounds N] [--keep]`);
  process.exit(0);
}

const log = (line: string) => console.error(`[bench] ${line}`);
const databaseUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const quick = args.quick;
const measureSeconds = Number(args.seconds ?? (quick ? 2 : 8));
const timing: scenario.Timing = {
  warmupSeconds: quick ? 0.5 : 2,
  seconds: measureSeconds,
  connections: Number(args.connections ?? 32),
};
// A scenario with a baseline is measured in turns, product and baseline alternating (the first to go
// swapped every round), the measured seconds split between the rounds: the machine's drift then falls
// on both sides alike instead of on whichever ran in the slower minute.
const rounds = Math.max(1, Number(args.rounds ?? (quick ? 1 : 4)));
const roundTiming: scenario.Timing = { ...timing, warmupSeconds: Math.min(timing.warmupSeconds, 1), seconds: measureSeconds / rounds };
const only = new Set((args.only ?? SCENARIOS.join(',')).split(',').map((s) => s.trim()));
for (const key of only) if (!SCENARIOS.includes(key as ScenarioKey)) throw new Error(`unknown scenario ${key}; known: ${SCENARIOS.join(', ')}`);
const want = (key: ScenarioKey) => only.has(key);

/** `1: 2719/3245 440/354 µs; 2: …`: each round's product and baseline, req/s and CPU per request. */
function byRound(rounds: NonNullable<Measured['rounds']>): string {
  const cpu = (m: Measurement | undefined) => (m?.cpuUs === undefined ? '—' : m.cpuUs.toFixed(0));
  return rounds.mine
    .map((mine, i) => `${i + 1}: ${mine.rps.toFixed(0)}/${rounds.base[i]?.rps.toFixed(0) ?? '—'} ${cpu(mine)}/${cpu(rounds.base[i])} µs`)
    .join('; ');
}

interface Measured {
  row: Row;
  baselineResult?: Measurement;
  /** The overload scenario: login successes the audit recorded during the run. */
  auditedSuccesses?: number;
  /** The back-channel scenario: logout tokens the receiver got while the product answered. */
  deliveries?: number;
  /** A scenario measured in turns: each round's product and baseline, in order (warm-up and drift show here). */
  rounds?: { mine: Measurement[]; base: Measurement[] };
  result?: Measurement;
}

const mb = (bytes: number): string => (bytes / 1048576).toFixed(0);

const byThread = (cpu: Record<string, number> = {}): string =>
  Object.entries(cpu)
    .filter(([, us]) => us >= 0.5)
    .map(([kind, us]) => `${kind} ${us.toFixed(0)}`)
    .join(', ') || '—';

function toRow(name: string, result: Measurement, baseline?: Row['baseline'], target?: number): Row {
  return {
    scenario: name,
    rps: result.rps,
    p50: result.p50,
    p99: result.p99,
    failures: result.failed + result.errors,
    cpuUs: result.cpuUs,
    threadCpuUs: result.threadCpuUs,
    rssPeak: result.rssPeak,
    baseline,
    target,
  };
}

async function argon2Ceiling(env: BenchEnvironment, seconds: number): Promise<{ rate: number; cpuUs: number }> {
  const stdout = await runToCompletion('argon2 baseline', process.execPath, [
    path.join(ROOT, 'bench/baselines/argon2.ts'),
    JSON.stringify({ hash: env.passwordHash, password: BENCH_PASSWORD, seconds }),
  ], { cpu: SERVER_CPU, cwd: ROOT, timeoutMs: seconds * 1000 + 30_000 });
  return JSON.parse(stdout) as { rate: number; cpuUs: number };
}

/** A loopback back-channel logout receiver that answers 200 after `delayMs`, counting what it received. */
async function startSlowReceiver(port: number, delayMs: number): Promise<{ received(): number; close(): Promise<void> }> {
  let count = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      count += 1;
      setTimeout(() => res.end(), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    received: () => count,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A server that died under load makes every later figure meaningless: stop, with what it said last. */
function stillRunning(proc: Managed): void {
  if (proc.child.exitCode === null && proc.child.signalCode === null) return;
  throw new Error(`${proc.name} exited under load (${proc.child.exitCode ?? proc.child.signalCode}); its last output:\n${proc.output()}`);
}

async function runDefault(dir: string): Promise<void> {
  const started = Date.now();
  const users = Number(args.users ?? 1000);
  const env = await prepareEnvironment({ dir, users, databaseUrl, log });
  const profileDir = args.profile ? path.join(dir, 'profile') : undefined;
  const baselineProfileDir = args.profile ? path.join(dir, 'profile-bare-oidc') : undefined;
  if (profileDir) mkdirSync(profileDir);
  if (baselineProfileDir) mkdirSync(baselineProfileDir);
  const product = await startProduct(env, { profileDir });
  const productUrl = env.config.publicUrl;
  log(`product server pid ${product.pid} on ${productUrl}`);

  const sample = env.users.slice(0, 200);
  const auth = scenario.basicAuth(CLIENT_ID, env.clientSecret);
  const measured: Measured[] = [];
  const rss = sampleRss(product.pid);
  const pair = async (name: string, mine: LoadSpec, base?: { name: string; spec: LoadSpec; pid: number }, target?: number) => {
    log(`${name}…`);
    let result: Measurement;
    let baselineResult: Measurement | undefined;
    let perRound: Measured['rounds'];
    let rssPeak = 0;
    if (!base) {
      rss.mark();
      result = await runLoad(dir, mine, product.pid);
      rssPeak = rss.mark();
    } else {
      const runs: { mine: Measurement[]; base: Measurement[] } = { mine: [], base: [] };
      const inRound = (spec: LoadSpec): LoadSpec => ({ ...spec, warmupSeconds: roundTiming.warmupSeconds, seconds: roundTiming.seconds });
      for (let round = 0; round < rounds; round += 1) {
        const baseFirst = round % 2 === 0;
        if (baseFirst) runs.base.push(await runLoad(dir, inRound(base.spec), base.pid));
        rss.mark();
        runs.mine.push(await runLoad(dir, inRound(mine), product.pid));
        rssPeak = Math.max(rssPeak, rss.mark());
        stillRunning(product);
        if (!baseFirst) runs.base.push(await runLoad(dir, inRound(base.spec), base.pid));
      }
      result = combine(runs.mine);
      baselineResult = combine(runs.base);
      perRound = runs;
    }
    result.rssPeak = rssPeak;
    stillRunning(product);
    const baseline = base && baselineResult ? { name: base.name, rps: baselineResult.rps, cpuUs: baselineResult.cpuUs } : undefined;
    measured.push({ row: toRow(name, result, baseline, target), baselineResult, result, rounds: perRound });
  };

  let bareKoa: { proc: Managed; url: string } | undefined;
  if (want('me')) {
    bareKoa = await startBareKoa(env);
    const pool = writePool(dir, 'me', await mintAccessTokens(env, sample));
    await pair('GET /auth/me', scenario.bearerGet(`${productUrl}/auth/me`, pool, timing), {
      name: 'bare Koa + jose + Redis GET',
      spec: scenario.bearerGet(`${bareKoa.url}/me`, pool, timing),
      pid: bareKoa.proc.pid,
    }, 1.0);
    await bareKoa.proc.stop();
  }
  if (want('login')) {
    const bodies = writePool(dir, 'login', Array.from({ length: users }, (_, i) => JSON.stringify({ username: benchUsername(i + 1), password: BENCH_PASSWORD })));
    // In turns with the argon2id ceiling too, but fewer and longer ones: a login takes about a second
    // under this load, so a short window would mostly measure its own edges.
    const loginRounds = Math.min(rounds, 2);
    // At most as many logins in flight as the server's password-hash queue admits (4 × libuv's 4 threads,
    // CONTRACT §6): more would measure its 503s (cheap answers on the hashing core), not the logins.
    const loginTiming: scenario.Timing = { ...timing, connections: Math.min(timing.connections, 16), seconds: measureSeconds / loginRounds };
    const ceilingSeconds = (quick ? 2 : 5) / loginRounds;
    const ceilings: { rate: number; cpuUs: number }[] = [];
    const runs: Measurement[] = [];
    let rssPeak = 0;
    for (let round = 0; round < loginRounds; round += 1) {
      const ceilingFirst = round % 2 === 0;
      if (ceilingFirst) ceilings.push(await argon2Ceiling(env, ceilingSeconds));
      log(`POST /auth/login (round ${round + 1} of ${loginRounds})…`);
      rss.mark();
      runs.push(await runLoad(dir, scenario.login(`${productUrl}/auth/login`, bodies, loginTiming), product.pid));
      rssPeak = Math.max(rssPeak, rss.mark());
      stillRunning(product);
      if (!ceilingFirst) ceilings.push(await argon2Ceiling(env, ceilingSeconds));
    }
    const result = combine(runs);
    result.rssPeak = rssPeak;
    const mean = (pick: (c: { rate: number; cpuUs: number }) => number) => ceilings.reduce((sum, c) => sum + pick(c), 0) / ceilings.length;
    measured.push({ row: toRow('POST /auth/login', result, { name: 'argon2id verify, 1 core', rps: mean((c) => c.rate), cpuUs: mean((c) => c.cpuUs) }, 0.85) });
  }
  if (want('refresh')) {
    const expected = quick ? 8000 : 40_000;
    const tokens = await mintRefreshTokens(env, expected, Date.now() + (quick ? 8000 : 30_000));
    log(`minted ${tokens.length} refresh tokens`);
    await pair('POST /auth/refresh', scenario.legacyRefresh(`${productUrl}/auth/refresh`, writePool(dir, 'refresh', tokens), timing));
  }
  if (want('hs256')) {
    // An old service's HS256 mount (CONTRACT §3 `token`): the same login and /me, signed with its SECRET_KEY.
    const pool = writePool(dir, 'hs256-me', await mintAccessTokens(env, sample, hs256Policy(env)));
    await pair(`GET ${HS256_PREFIX}/me (HS256 mount)`, scenario.bearerGet(`${productUrl}${HS256_PREFIX}/me`, pool, timing));
    const bodies = writePool(dir, 'hs256-login', Array.from({ length: users }, (_, i) => JSON.stringify({ username: benchUsername(i + 1), password: BENCH_PASSWORD })));
    await pair(`POST ${HS256_PREFIX}/login (HS256 mount)`, scenario.login(`${productUrl}${HS256_PREFIX}/login`, bodies, { ...timing, connections: Math.min(timing.connections, 16) }));
  }
  if (want('register')) {
    // Sign-up with the open-route limits on (20 per IP per hour, CONTRACT §6): each request from its own
    // address, each body a new user (argon2id hash, user + organization + membership in one transaction).
    const tag = Date.now().toString(36);
    const bodies = Array.from({ length: quick ? 400 : 2000 }, (_, i) =>
      JSON.stringify({ username: `reg-${tag}-${i}`, email: `reg-${tag}-${i}@bench.test`, password: BENCH_PASSWORD }));
    await pair('POST /auth/signup (limits on)', scenario.register(`${productUrl}/auth/signup`, writePool(dir, 'register', bodies), { ...timing, connections: Math.min(timing.connections, 16) }));
  }
  if (want('overload')) {
    // More logins in flight than the password-hash queue admits (4 × 4 threads = 16): the rest must be shed
    // with 503 + Retry-After at once, the admitted ones keep their latency, and every success the audit
    // records is one a client received.
    const bodies = writePool(dir, 'overload', Array.from({ length: users }, (_, i) => JSON.stringify({ username: benchUsername(i + 1), password: BENCH_PASSWORD })));
    const successesBefore = await env.deps.models.AuditEvent.count({ where: { type: 'login', outcome: 'success' } });
    await pair('POST /auth/login, 64 in flight (overload)', scenario.login(`${productUrl}/auth/login`, bodies, { ...timing, warmupSeconds: 0, connections: 64 }));
    // Audit rows are written in small batches: give the last ones a moment.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const successes = (await env.deps.models.AuditEvent.count({ where: { type: 'login', outcome: 'success' } })) - successesBefore;
    const row = measured.at(-1);
    if (row) row.auditedSuccesses = successes;
  }
  if (want('totp')) {
    // After every password-login scenario: it gives every user TOTP, so their password logins answer mfa_required.
    // Right before its run: the codes are valid for the current and the next 30 s step only.
    const bodies = await mintTotpLogins(env, Date.now() + (quick ? 8000 : 20_000));
    log(`minted ${bodies.length} TOTP login steps`);
    await pair('POST /auth/login/mfa (TOTP step)', scenario.mfaLogin(`${productUrl}/auth/login/mfa`, writePool(dir, 'totp', bodies), timing));
  }
  if (want('exchange')) {
    const subjects = writePool(dir, 'exchange', await mintExchangeSubjects(env, sample, auth));
    await pair('POST /oidc/token token-exchange', scenario.tokenExchange(`${productUrl}/oidc/token`, auth, subjects, EXCHANGE_RESOURCES.target, timing));
  }
  if (want('backchannel')) {
    // Each request revokes a grant of the bench client through the admin API, which sends the client a
    // back-channel logout. The receiver takes a second to answer: were delivery on the request path, every
    // revocation would take that second.
    const receiver = await startSlowReceiver(PORTS.backchannelReceiver, 1000);
    const grants = await mintRevocableGrants(env, env.users.slice(0, quick ? 500 : users - 1), quick ? 4 : 6);
    const token = await adminToken(env);
    await pair('DELETE /admin/api/users/:id/grants/:grantId (back-channel logout, receiver 1 s)', scenario.bearerDelete(`${productUrl}/admin/api/users/x`, '/admin/api/users/{{item}}', token, writePool(dir, 'grants', grants), timing));
    const row = measured.at(-1);
    if (row) row.deliveries = receiver.received();
    await receiver.close();
  }
  const oidcWanted = (['cc', 'oidc-refresh', 'userinfo', 'introspection'] as const).some(want);
  if (oidcWanted) {
    const bare = await startBareOidc(env, sample, { profileDir: baselineProfileDir });
    const mine = await mintProductOidcTokens(env, sample);
    const pools = {
      mineRefresh: writePool(dir, 'oidc-refresh', mine.refresh),
      mineAccess: writePool(dir, 'oidc-access', mine.access),
      bareRefresh: writePool(dir, 'bare-refresh', bare.pools.refresh),
      bareAccess: writePool(dir, 'bare-access', bare.pools.access),
    };
    const name = 'bare oidc-provider';
    if (want('cc')) {
      await pair('POST /oidc/token client_credentials', scenario.clientCredentials(`${productUrl}/oidc/token`, auth, timing), {
        name,
        spec: scenario.clientCredentials(`${bare.url}/token`, auth, timing),
        pid: bare.proc.pid,
      }, 0.85);
    }
    if (want('oidc-refresh')) {
      await pair('POST /oidc/token refresh_token', scenario.oidcRefresh(`${productUrl}/oidc/token`, auth, pools.mineRefresh, timing), {
        name,
        spec: scenario.oidcRefresh(`${bare.url}/token`, auth, pools.bareRefresh, timing),
        pid: bare.proc.pid,
      }, 0.85);
    }
    if (want('userinfo')) {
      await pair('GET /oidc/me (userinfo)', scenario.bearerGet(`${productUrl}/oidc/me`, pools.mineAccess, timing), {
        name,
        spec: scenario.bearerGet(`${bare.url}/me`, pools.bareAccess, timing),
        pid: bare.proc.pid,
      }, 0.85);
    }
    if (want('introspection')) {
      await pair('POST /oidc/token/introspection', scenario.introspection(`${productUrl}/oidc/token/introspection`, auth, pools.mineAccess, timing), {
        name,
        spec: scenario.introspection(`${bare.url}/token/introspection`, auth, pools.bareAccess, timing),
        pid: bare.proc.pid,
      }, 0.85);
    }
    await bare.proc.stop();
  }
  rss.stop();
  const heap = await heapFigures(productUrl, env.config.metricsToken);
  await product.stop();

  const rows = measured.map((entry) => entry.row);
  const notes = [
    `server RSS peak under load: ${mb(rss.overall())} MB (target ≤ 250 MB); per scenario: ${measured
      .map((entry) => `${entry.row.scenario} ${entry.row.rssPeak ? mb(entry.row.rssPeak) : '—'} MB`)
      .join('; ')}`,
    `server V8 heap after the run: ${heap}`,
    `argon2id m=${env.config.argon2.memoryCost} KiB, t=${env.config.argon2.timeCost}, p=${env.config.argon2.parallelism}; ${users} users; ${timing.connections} connections; ${timing.warmupSeconds} s warm-up + ${timing.seconds} s per scenario; scenarios with a baseline: ${rounds} round(s) of ${roundTiming.warmupSeconds} s warm-up + ${roundTiming.seconds.toFixed(1)} s each side, alternating`,
    `servers (product and baselines) started with ${process.env.BENCH_NODE_DEFAULTS === '1' ? "Node's default flags (BENCH_NODE_DEFAULTS=1)" : 'the flags of npm start'}: node ${[...startScriptFlags(), process.env.BENCH_SERVER_NODE_OPTIONS ? `(NODE_OPTIONS=${process.env.BENCH_SERVER_NODE_OPTIONS})` : ''].join(' ')} src/main.ts`,
    `pinning: ${canPin() ? 'servers on core 0, load generator on core 1 (taskset)' : 'NOT pinned (taskset unavailable)'}; ${availableParallelism()} cores; Node ${process.version}`,
    'CPU µs per request by thread (main: JavaScript; libuv pool: argon2, WebCrypto; V8 workers: garbage collection, compilation):',
    ...measured.map((entry) =>
      `  ${entry.row.scenario}: product ${byThread(entry.row.threadCpuUs)}${entry.baselineResult ? `; baseline ${byThread(entry.baselineResult.threadCpuUs)}` : ''}`,
    ),
    ...measured
      .filter((entry) => entry.auditedSuccesses !== undefined && entry.result)
      .map(({ row, result, auditedSuccesses }) =>
        `${row.scenario}: statuses ${JSON.stringify(result?.statuses)}; admitted (2xx) p50 ${result?.okP50 ?? '—'} ms, p99 ${result?.okP99 ?? '—'} ms; login successes audited ${auditedSuccesses} for ${result?.ok} 2xx answers received`),
    ...measured
      .filter((entry) => entry.deliveries !== undefined)
      .map(({ row, result, deliveries }) => `${row.scenario}: ${result?.ok} revocations answered (p50 ${row.p50} ms, p99 ${row.p99} ms, against the receiver's 1,000 ms); ${deliveries} logout tokens received by the end of the scenario`),
    ...measured
      .filter((entry) => entry.baselineResult)
      .map((entry) => `baseline of ${entry.row.scenario}: p50 ${entry.baselineResult?.p50} ms, p99 ${entry.baselineResult?.p99} ms`),
    'by round (product / baseline: req/s, CPU µs per request), in the order measured:',
    ...measured
      .filter((entry) => entry.rounds)
      .map(({ row, rounds }) => `  ${row.scenario}: ${byRound(rounds!)}`),
    `total ${((Date.now() - started) / 1000).toFixed(0)} s`,
  ];
  console.log(`\n${renderText(rows)}\n\n${notes.join('\n')}`);
  writeResults(rows, notes);

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  for (const [from, who, label] of [[profileDir, 'product', 'the product server'], [baselineProfileDir, 'bare-oidc', 'the bare oidc-provider baseline']] as const) {
    const [file] = from ? readdirSync(from).filter((name) => name.endsWith('.cpuprofile')) : [];
    if (!from || !file) continue;
    const target = path.join(ROOT, 'bench/results', `${who}-${stamp}.cpuprofile`);
    mkdirSync(path.dirname(target), { recursive: true });
    copyFileSync(path.join(from, file), target);
    console.log(`\nCPU profile of ${label}: ${path.relative(ROOT, target)}\n\n${renderProfile(summarizeProfile(target))}`);
  }
  if (rows.some((row) => met(row) === false)) process.exitCode = 2;
}

/** The server's V8 heap as its own /metrics reports it (used / total, MB): how close it runs to its limit. */
async function heapFigures(productUrl: string, metricsToken: string | undefined): Promise<string> {
  try {
    const headers: Record<string, string> = metricsToken ? { authorization: `Bearer ${metricsToken}` } : {};
    const text = await (await fetch(`${productUrl}/metrics`, { headers })).text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN) / 1048576;
    return `${value('idp_nodejs_heap_size_used_bytes').toFixed(0)} MB used of ${value('idp_nodejs_heap_size_total_bytes').toFixed(0)} MB`;
  } catch (err) {
    return `unknown (${(err as Error).message})`;
  }
}

function writeResults(rows: Row[], notes: string[]): void {
  const dir = path.join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const command = `node bench/run.ts ${process.argv.slice(2).join(' ')}`.trim();
  const markdown = [`Command: \`${command}\` — ${new Date().toISOString()}`, '', renderMarkdown(rows), '', ...notes.map((note) => `- ${note}`), ''].join('\n');
  writeFileSync(path.join(dir, 'latest.md'), markdown);
  writeFileSync(path.join(dir, 'latest.json'), JSON.stringify({ command, at: new Date().toISOString(), rows, notes }, null, 2));
}

cleanupOnSignals();
const dir = mkdtempSync(path.join(tmpdir(), 'idp-bench-'));
try {
  if (args.scale) await runScale({ dir, databaseUrl, quick, timing, log, ...(args.users ? { large: Number(args.users) } : {}) });
  else await runDefault(dir);
} catch (err) {
  console.error(`bench failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
} finally {
  await cleanupAll();
  if (args.keep) log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
