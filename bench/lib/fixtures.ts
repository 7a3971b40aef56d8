/**
 * The bench's world: its own Redis (a redis-server on a loopback port, so nothing is shared with other
 * users of the machine's Redis), its own PostgreSQL database, seeded users, the product server as
 * `npm start` runs it, the two baseline servers, and the token pools the scenarios spend.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { buildDependencies, type Dependencies } from '../../src/dependencies.ts';
import { createPasswordService } from '../../src/services/passwords.ts';
import { startRedisServer, type RedisServer } from '../../test/helpers/redis.ts';
import { createBenchDatabase, seedUsers, userIds, type BenchDatabase } from './database.ts';
import { onCleanup } from './cleanup.ts';
import { pinRunning, start, waitForHttp, type Managed } from './processes.ts';
import { LOAD_CPU, SERVER_CPU } from './load.ts';
import { mintOidcTokens, type OidcPools } from './oidc-mint.ts';
import { createMfaTokenService } from '../../src/services/mfa/mfa-tokens.ts';
import type { TokenPolicy } from '../../src/services/tokens.ts';
import { tokenPolicy } from '../../src/http/legacy/mounts.ts';

/** The token policy of the bench's HS256 mount, as the server derives it from the same configuration. */
export function hs256Policy(env: BenchEnvironment): TokenPolicy {
  const mount = env.config.compatProfiles.find((m) => m.prefix === HS256_PREFIX);
  if (!mount) throw new Error(`no mount at ${HS256_PREFIX}`);
  return tokenPolicy(mount, env.config.publicUrl);
}
import { TOTP_PERIOD_SECONDS, totpCode } from '../../src/services/mfa/totp.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
export const PORTS = { redis: 7500, product: 7680, bareKoa: 7681, bareOidc: 7682, backchannelReceiver: 7697 };
export const CLIENT_ID = 'bench-rp';
/** Two resource servers run by the bench client: it trades a token for the first for one for the second. */
export const EXCHANGE_RESOURCES = { subject: 'https://orders.bench.test/', target: 'https://billing.bench.test/' };

/** A legacy mount signing with an old service's HS256 SECRET_KEY (CONTRACT §3 `token`), beside the default mounts. */
export const HS256_PREFIX = '/hs/auth';
const COMPAT_MOUNTS = JSON.stringify([
  { prefix: '/auth', profile: 'auth-service' },
  { prefix: '/api/v1/auth', profile: 'aurora' },
  { prefix: '/api/v2/auth', profile: 'v2' },
  { prefix: HS256_PREFIX, profile: 'aurora', token: { signing: 'HS256', secret_env: 'BENCH_HS256_SECRET' } },
]);

export interface BenchEnvironment {
  dir: string;
  redis: RedisServer;
  database: BenchDatabase;
  /** The product's environment variables and the configuration they make. */
  productEnv: Record<string, string>;
  config: Config;
  /** The product's services, built in the runner with the same configuration, to mint tokens. */
  deps: Dependencies;
  passwordHash: string;
  /** Ids of the seeded users, user1 first. */
  users: string[];
  clientSecret: string;
  clientFile: string;
}

export interface PrepareOptions {
  dir: string;
  users: number;
  databaseUrl: string;
  log: (line: string) => void;
  /** Another world beside the default one (the scale bench runs two): its Redis and server ports. */
  ports?: { redis: number; product: number };
}

export async function prepareEnvironment(options: PrepareOptions): Promise<BenchEnvironment> {
  const { dir, log } = options;
  const ports = options.ports ?? PORTS;
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  const redis = await startRedisServer({ port: ports.redis });
  onCleanup(() => redis.stop());
  // Redis runs beside the load generator, so core 0 is the server's alone (its caches included).
  pinRunning(redis.pid, LOAD_CPU);
  const database = await createBenchDatabase(options.databaseUrl);
  log(`database ${database.name}, redis ${redis.url}`);

  const clientSecret = randomBytes(32).toString('base64url');
  const clientFile = path.join(dir, 'clients.json');
  const client = {
    client_id: CLIENT_ID,
    client_secret: clientSecret,
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1:7699/callback'],
    token_endpoint_auth_method: 'client_secret_basic',
  };
  // The product's client may also exchange tokens (CONTRACT §11): it runs both bench resources below.
  // …and is told of ended sessions and revoked grants by back-channel logout, at the bench's slow receiver.
  writeFileSync(clientFile, JSON.stringify([{ ...client, first_party: true, token_exchange: true, backchannel_logout_uri: `http://127.0.0.1:${PORTS.backchannelReceiver}/logout` }]));
  writeFileSync(path.join(dir, 'bare-client.json'), JSON.stringify(client));

  const productEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(ports.product),
    PUBLIC_URL: `http://127.0.0.1:${ports.product}`,
    DATABASE_URL: database.url,
    REDIS_URL: redis.url,
    COOKIE_KEYS: randomBytes(32).toString('base64url'),
    KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    METRICS_TOKEN: randomBytes(24).toString('base64url'),
    DATA_DIR: path.join(dir, 'data'),
    LOG_LEVEL: 'info',
    // Load comes from 127.0.0.1 only; behind a proxy, per-IP login limits see the clients' addresses.
    TRUST_PROXY: 'true',
    OIDC_CLIENTS_FILE: clientFile,
    COMPAT_PROFILES: COMPAT_MOUNTS,
    // The back-channel receiver runs on loopback (production refuses internal addresses by default).
    BACKCHANNEL_ALLOW_PRIVATE: 'true',
    BENCH_HS256_SECRET: randomBytes(32).toString('base64url'),
    MIGRATE_ON_START: 'false',
    WORKERS: '1',
    // Cheaper hashing only to profile what a login costs besides its hash (see bench/README.md);
    // production refuses such parameters, so that profile runs in development mode.
    ...(process.env.ARGON2_MEMORY_KIB ? { NODE_ENV: 'development' } : {}),
    ...Object.fromEntries(
      ['ARGON2_MEMORY_KIB', 'ARGON2_TIME_COST', 'UV_THREADPOOL_SIZE', 'MALLOC_MMAP_THRESHOLD_', 'MALLOC_ARENA_MAX', 'ACCESS_LOG'].flatMap((key) => (process.env[key] ? [[key, process.env[key] as string]] : [])),
    ),
    // Node options for the server alone (trying heap settings without changing package.json).
    ...(process.env.BENCH_SERVER_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_SERVER_NODE_OPTIONS } : {}),
  };
  const config = loadConfig(productEnv);
  const passwordHash = await createPasswordService(config.argon2).hash('bench-password-1');
  await seedUsers(database.sequelize, { from: 1, to: options.users, passwordHash });
  const users = await userIds(database.sequelize, 1, options.users);
  log(`seeded ${users.length} users`);

  const deps = await buildDependencies(config, createLogger({ level: 'silent' }));
  onCleanup(() => deps.close());
  await deps.models.Resource.bulkCreate([
    { indicator: EXCHANGE_RESOURCES.subject, scope: 'orders:read shared:read', serverClientId: CLIENT_ID },
    { indicator: EXCHANGE_RESOURCES.target, scope: 'billing:read shared:read', serverClientId: CLIENT_ID },
  ]);
  return { dir, redis, database, productEnv, config, deps, passwordHash, users, clientSecret, clientFile };
}

/**
 * The Node options `npm start` runs the server with (package.json), so the bench measures the product as
 * it runs. The baselines run with them too: the heap settings (chosen for resident memory) change the
 * garbage collector's work per request, and a ratio should compare code, not runtime settings.
 */
export function startScriptFlags(): string[] {
  // BENCH_NODE_DEFAULTS=1: every server at Node's own defaults instead (the "default-flag figure").
  if (process.env.BENCH_NODE_DEFAULTS === '1') return [];
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  const words = (pkg.scripts?.start ?? '').split(/\s+/);
  const at = words.indexOf('node');
  return at === -1 ? [] : words.slice(at + 1).filter((word) => word.startsWith('--'));
}

/** The start script's flags, and a CPU profile written into `profileDir` when one is asked for. */
function serverFlags(profileDir: string | undefined): string[] {
  return [...startScriptFlags(), ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])];
}

export async function startProduct(env: BenchEnvironment, options: { profileDir?: string; extraEnv?: Record<string, string> } = {}): Promise<Managed> {
  const nodeArgs = serverFlags(options.profileDir);
  const proc = start('product server', process.execPath, [...nodeArgs, path.join(ROOT, 'src/main.ts')], {
    cpu: SERVER_CPU,
    cwd: ROOT,
    env: { ...env.productEnv, ...options.extraEnv },
    logFile: path.join(env.dir, `product-${env.config.port}.log`),
  });
  await waitForHttp(proc, `${env.config.publicUrl}/readyz`);
  return proc;
}

export async function startBareKoa(env: BenchEnvironment): Promise<{ proc: Managed; url: string }> {
  const jwksFile = path.join(env.dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify((await env.deps.keys.load()).publicJwks));
  const proc = start('bare Koa baseline', process.execPath, [...startScriptFlags(), path.join(ROOT, 'bench/baselines/bare-koa.ts')], {
    cpu: SERVER_CPU,
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(PORTS.bareKoa),
      REDIS_URL: env.redis.url,
      JWKS_FILE: jwksFile,
      ISSUER: env.config.issuer,
      KEY_PREFIX: 'idp:',
    },
  });
  const url = `http://127.0.0.1:${PORTS.bareKoa}`;
  await waitForHttp(proc, `${url}/healthz`);
  return { proc, url };
}

export async function startBareOidc(
  env: BenchEnvironment,
  accountIds: readonly string[],
  options: { profileDir?: string } = {},
): Promise<{ proc: Managed; url: string; pools: OidcPools }> {
  const accountsFile = path.join(env.dir, 'bare-accounts.json');
  const outFile = path.join(env.dir, 'bare-pools.json');
  writeFileSync(accountsFile, JSON.stringify(accountIds));
  const nodeArgs = serverFlags(options.profileDir);
  const proc = start('bare oidc-provider baseline', process.execPath, [...nodeArgs, path.join(ROOT, 'bench/baselines/bare-oidc.ts')], {
    cpu: SERVER_CPU,
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(PORTS.bareOidc),
      DATABASE_URL: env.database.url,
      REDIS_URL: env.redis.url,
      CLIENT_FILE: path.join(env.dir, 'bare-client.json'),
      ACCOUNTS_FILE: accountsFile,
      OUT_FILE: outFile,
      ACCESS_TOKEN_TTL: String(env.config.tokens.accessTokenTtl),
      REFRESH_TOKEN_TTL: String(env.config.tokens.refreshTokenTtl),
      // The signing keys in the shared database are stored encrypted (KEY_ENCRYPTION_KEY, §6).
      KEY_ENCRYPTION_KEY: env.productEnv.KEY_ENCRYPTION_KEY ?? '',
    },
  });
  const url = `http://127.0.0.1:${PORTS.bareOidc}`;
  await waitForHttp(proc, `${url}/.well-known/openid-configuration`);
  return { proc, url, pools: JSON.parse(readFileSync(outFile, 'utf8')) as OidcPools };
}

/**
 * Access tokens of live password sessions (one per user given), minted by the product's own services;
 * with `policy`, as the mount of that policy mints them (an HS256 mount: its secret and `sub`).
 */
export async function mintAccessTokens(env: BenchEnvironment, ids: readonly string[], policy?: TokenPolicy): Promise<string[]> {
  const tokens: string[] = [];
  for (const id of ids) {
    const account = await env.deps.accounts.getById(id);
    if (!account) throw new Error(`seeded user ${id} not found`);
    const session = await env.deps.sessions.create({ userId: id, kind: 'password', context: { door: 'bench', ip: '127.0.0.1', userAgent: 'bench' } });
    tokens.push((await env.deps.tokens.issueAccessToken(account, session, policy)).token);
  }
  return tokens;
}

/** Refresh tokens, each of its own session, spread over the users; stops at `count` or the deadline. */
export async function mintRefreshTokens(env: BenchEnvironment, count: number, deadline: number): Promise<string[]> {
  const tokens: string[] = [];
  let next = 0;
  async function worker(): Promise<void> {
    while (next < count && Date.now() < deadline) {
      const userId = env.users[next % env.users.length] as string;
      next += 1;
      const session = await env.deps.sessions.create({ userId, kind: 'password', context: { door: 'bench', ip: '127.0.0.1', userAgent: 'bench' } });
      tokens.push(await env.deps.tokens.issueRefreshToken(userId, session.session_id));
    }
  }
  await Promise.all(Array.from({ length: 64 }, worker));
  return tokens;
}

/**
 * Bodies of `POST /auth/login/mfa` (the TOTP step of a two-step login, CONTRACT §9), each used once: every
 * user gets TOTP through the product's own service (so the secret is sealed as the product seals it), then
 * two mfa_tokens, one for the code of this time step and one for the next, in that order across the pool (a
 * code is accepted once per user and never an older step after a newer one). The pool lasts until the step
 * after next begins: at least 30 s, so it is minted right before its run.
 */
export async function mintTotpLogins(env: BenchEnvironment, deadline: number): Promise<string[]> {
  const mfaTokens = createMfaTokenService({ store: env.deps.store });
  const secrets = new Map<string, string>();
  let next = 0;
  async function enrol(): Promise<void> {
    while (next < env.users.length && Date.now() < deadline) {
      const userId = env.users[next] as string;
      next += 1;
      const { secret } = await env.deps.mfa.startTotp(userId, `${userId}@bench.test`);
      secrets.set(userId, secret);
    }
  }
  await Promise.all(Array.from({ length: 16 }, enrol));
  // Confirmed without a code used yet, so both steps below are accepted.
  await env.deps.models.TotpFactor.update({ confirmedAt: new Date() }, { where: { userId: [...secrets.keys()] } });
  const now = Date.now();
  const steps = [now, now + TOTP_PERIOD_SECONDS * 1000];
  const bodies: string[] = [];
  for (const at of steps) {
    const issued = await Promise.all(
      [...secrets].map(async ([userId, secret]) => {
        const token = await mfaTokens.issue({ userId, identifier: `bench-${userId}`, methods: ['totp', 'recovery_code'] });
        return JSON.stringify({ mfa_token: token, code: totpCode(secret, at) });
      }),
    );
    bodies.push(...issued);
  }
  return bodies;
}

export function mintProductOidcTokens(env: BenchEnvironment, accountIds: readonly string[]): Promise<OidcPools> {
  return mintOidcTokens(env.deps.oidc.provider, { accountIds, clientId: CLIENT_ID });
}

/**
 * Subject tokens for token exchange: RFC 9068 access tokens for the first bench resource, each of its own
 * grant, obtained as a client gets them (a refresh at the product's token endpoint with `resource`), so the
 * product has remembered each one's grant as it would after a real login.
 */
export async function mintExchangeSubjects(env: BenchEnvironment, accountIds: readonly string[], auth: string): Promise<string[]> {
  const { provider } = env.deps.oidc;
  const client = await provider.Client.find(CLIENT_ID);
  if (!client) throw new Error(`client ${CLIENT_ID} is unknown to the provider`);
  const subjects: string[] = [];
  for (const accountId of accountIds) {
    const grant = new provider.Grant({ accountId, clientId: CLIENT_ID });
    grant.addOIDCScope('openid offline_access');
    grant.addResourceScope(EXCHANGE_RESOURCES.subject, 'orders:read shared:read');
    const grantId = await grant.save();
    const refresh = await new provider.RefreshToken({ client, accountId, grantId, gty: 'authorization_code', scope: 'openid offline_access orders:read shared:read', resource: EXCHANGE_RESOURCES.subject, authTime: Math.floor(Date.now() / 1000) }).save();
    const res = await fetch(`${env.config.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh, resource: EXCHANGE_RESOURCES.subject, scope: 'orders:read shared:read' }),
    });
    const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
    if (!body.access_token) throw new Error(`minting a subject token failed: ${res.status} ${body.error} ${body.error_description}`);
    subjects.push(body.access_token);
  }
  return subjects;
}

/**
 * Grants of the bench client, one per user given (as a login with consent leaves them), to be revoked
 * through the admin API: each revocation sends the client a back-channel logout. Items are the path rest
 * `<user id>/grants/<grant id>`.
 */
export async function mintRevocableGrants(env: BenchEnvironment, accountIds: readonly string[], perAccount: number): Promise<string[]> {
  const { provider } = env.deps.oidc;
  const items: string[] = [];
  for (const accountId of accountIds) {
    for (let i = 0; i < perAccount; i += 1) {
      const grant = new provider.Grant({ accountId, clientId: CLIENT_ID });
      grant.addOIDCScope('openid profile');
      items.push(`${accountId}/grants/${await grant.save()}`);
    }
  }
  return items;
}

/** An admin's bearer token (a legacy access token of a user given ADMIN_ROLE), for the admin API scenarios. */
export async function adminToken(env: BenchEnvironment): Promise<string> {
  const id = env.users[env.users.length - 1] as string;
  await env.deps.roles.grant(id, env.config.admin.role);
  const [token] = await mintAccessTokens(env, [id]);
  return token as string;
}
