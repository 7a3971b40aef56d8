/**
 * Configuration: defaults ← config/default.json ← config/<NODE_ENV>.json ← environment.
 * Every key is declared once here (with its meaning in the README table); this is the only module that
 * reads process.env. Bad values are collected, one message per key, and thrown together.
 */
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { passwordScore } from './services/password-strength.ts';

const ROOT = path.resolve(import.meta.dirname, '..');

const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])]).transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const list = z
  .union([z.array(z.string()), z.string()])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter(Boolean));
const optionalString = z.string().trim().min(1).optional();
const httpUrl = z.url({ protocol: /^https?$/ });

const PROFILE_NAMES = ['auth-service', 'aurora', 'v2', 'envelope'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

const PREFIX = /^(\/[A-Za-z0-9._~-]+)+$/;
const reservedPrefix = (prefix: string): boolean =>
  prefix === '/oidc' || prefix.startsWith('/oidc/') || prefix === '/admin' || prefix.startsWith('/admin/');

/** How a mount's access tokens are signed and what their `sub` holds (CONTRACT §3 `token`). */
export type MountTokenSigning =
  | { signing: 'jwks' }
  | { signing: 'HS256'; secretEnv: string; secret: string; sub: 'id' | 'username' | 'number' };

/** One legacy mount and its options (CONTRACT §3 "Mounts and their options"), defaults filled in. */
export interface CompatMount {
  prefix: string;
  profile: ProfileName;
  accessTokenTtl: number;
  refresh: 'rotate' | 'reuse';
  refreshTokenFormat: 'jwt' | 'opaque';
  requireEmailVerification: boolean;
  missingBearer: 401 | 403;
  token: MountTokenSigning;
}

/** A mount object as written in COMPAT_PROFILES (JSON form) or `compat`; unknown members are refused. */
const mountObject = z.strictObject({
  prefix: z.string().regex(PREFIX, 'expected /prefix').refine((p) => !reservedPrefix(p), 'collides with a built-in route'),
  profile: z.enum(PROFILE_NAMES),
  access_token_ttl: int(60, 86_400).optional(),
  refresh: z.enum(['rotate', 'reuse']).optional(),
  refresh_token_format: z.enum(['jwt', 'opaque']).optional(),
  require_email_verification: z.boolean().optional(),
  missing_bearer: z.union([z.literal(401), z.literal(403), z.literal('401'), z.literal('403')]).transform(Number).optional(),
  token: z
    .discriminatedUnion('signing', [
      z.strictObject({ signing: z.literal('jwks') }),
      z.strictObject({
        signing: z.literal('HS256'),
        secret_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name'),
        sub: z.enum(['id', 'username', 'number']).optional(),
      }),
    ])
    .optional(),
});
type MountObject = z.infer<typeof mountObject>;

/** The short form `/auth=auth-service,/api/v1/auth=aurora` or a JSON array of mount objects. */
const compatProfiles = z
  .union([z.string(), z.array(z.unknown())])
  .transform((value, ctx): unknown[] => {
    if (Array.isArray(value)) return value;
    if (value.trim().startsWith('[')) {
      try {
        return JSON.parse(value) as unknown[];
      } catch {
        ctx.addIssue({ code: 'custom', message: 'not valid JSON' });
        return z.NEVER;
      }
    }
    const mounts: MountObject[] = [];
    for (const entry of value.split(',').map((s) => s.trim()).filter(Boolean)) {
      const [prefix, profile] = entry.split('=').map((s) => s.trim());
      if (!prefix || !PREFIX.test(prefix) || !PROFILE_NAMES.includes(profile as ProfileName)) {
        ctx.addIssue({ code: 'custom', message: `bad entry "${entry}": expected /prefix=${PROFILE_NAMES.join('|')}` });
        return z.NEVER;
      }
      if (reservedPrefix(prefix)) {
        ctx.addIssue({ code: 'custom', message: `prefix ${prefix} collides with a built-in route` });
        return z.NEVER;
      }
      mounts.push({ prefix, profile: profile as ProfileName });
    }
    return mounts;
  })
  .pipe(
    z.array(mountObject).superRefine((mounts, ctx) => {
      const seen = new Set<string>();
      for (const [i, mount] of mounts.entries()) {
        if (seen.has(mount.prefix)) ctx.addIssue({ code: 'custom', path: [i, 'prefix'], message: `prefix ${mount.prefix} is mounted twice` });
        seen.add(mount.prefix);
      }
    }),
  );

/** HS256 secrets: the old services' SECRET_KEY; below this many bytes production refuses to start. */
export const HS256_MIN_SECRET_BYTES = 32;

/** Fills in a mount's defaults (per profile, then the global keys) and reads its secret from `env`. */
function resolveMount(mount: MountObject, index: number, raw: { ACCESS_TOKEN_TTL: number; REQUIRE_EMAIL_VERIFICATION: boolean }, env: NodeJS.ProcessEnv, problems: string[]): CompatMount {
  const authService = mount.profile === 'auth-service';
  let token: MountTokenSigning = { signing: 'jwks' };
  if (mount.token?.signing === 'HS256') {
    const secret = env[mount.token.secret_env] ?? '';
    if (!secret) problems.push(`COMPAT_PROFILES[${index}].token.secret_env: environment variable ${mount.token.secret_env} is not set`);
    const sub = mount.token.sub ?? (mount.profile === 'aurora' || authService ? 'username' : 'id');
    token = { signing: 'HS256', secretEnv: mount.token.secret_env, secret, sub };
  }
  return {
    prefix: mount.prefix,
    profile: mount.profile,
    accessTokenTtl: mount.access_token_ttl ?? (authService ? 86_400 : raw.ACCESS_TOKEN_TTL),
    refresh: mount.refresh ?? (authService ? 'reuse' : 'rotate'),
    refreshTokenFormat: mount.refresh_token_format ?? (authService ? 'jwt' : 'opaque'),
    requireEmailVerification: mount.require_email_verification ?? (mount.profile === 'envelope' ? true : raw.REQUIRE_EMAIL_VERIFICATION),
    missingBearer: (mount.missing_bearer ?? (mount.profile === 'aurora' || mount.profile === 'envelope' ? 403 : 401)) as 401 | 403,
    token,
  };
}

const resources = z
  .string()
  .transform((value, ctx) => {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not valid JSON' });
      return z.NEVER;
    }
  })
  .pipe(z.record(z.url(), z.object({ scope: z.string().min(1), accessTokenTTL: z.coerce.number().int().positive().optional() })));

/** 32+ bytes as hex (64+ hex digits) or base64/base64url (44+ characters); hex is tried first. */
const keyEncryptionKey = z.string().trim().transform((value, ctx) => {
  const bytes = /^(?:[0-9a-fA-F]{2})+$/.test(value)
    ? Buffer.from(value, 'hex')
    : /^[A-Za-z0-9+/_-]+={0,2}$/.test(value)
      ? Buffer.from(value, 'base64')
      : undefined;
  if (!bytes || bytes.length < 32) {
    ctx.addIssue({ code: 'custom', message: 'expected 32 or more random bytes as base64 or hex (e.g. `openssl rand -base64 32`)' });
    return z.NEVER;
  }
  return bytes;
});

/** CLIENT_ID_METADATA_DOCUMENTS: `off`, `any`, or host suffixes (plus `loopback`, for tests outside production). */
const metadataDocuments = z.string().transform((value, ctx) => {
  const entries = value.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (entries.length === 0 || (entries.length === 1 && entries[0] === 'off')) return { mode: 'off' as const, hostSuffixes: [], loopback: false };
  if (entries.length === 1 && entries[0] === 'any') return { mode: 'any' as const, hostSuffixes: [], loopback: false };
  const hostSuffixes: string[] = [];
  let loopback = false;
  for (const entry of entries) {
    if (entry === 'loopback') loopback = true;
    else if (/^\.?([a-z0-9-]+\.)*[a-z0-9-]+$/.test(entry)) hostSuffixes.push(entry.replace(/^\./, ''));
    else {
      ctx.addIssue({ code: 'custom', message: `bad entry "${entry}": expected off, any, or a comma-separated list of host suffixes` });
      return z.NEVER;
    }
  }
  return { mode: 'list' as const, hostSuffixes, loopback };
});

/** MFA_POLICY (CONTRACT §9): `optional`, `required`, or `roles:a,b` (holders of those roles need a second factor). */
export type MfaPolicy = { kind: 'optional' } | { kind: 'required' } | { kind: 'roles'; roles: string[] };

const mfaPolicy = z.string().transform((value, ctx): MfaPolicy => {
  const text = value.trim();
  if (text === 'optional' || text === 'required') return { kind: text };
  const roles = /^roles:(.*)$/.exec(text)?.[1]?.split(',').map((role) => role.trim()).filter(Boolean) ?? [];
  if (roles.length) return { kind: 'roles', roles };
  ctx.addIssue({ code: 'custom', message: 'expected optional, required or roles:<name>,<name>' });
  return z.NEVER;
});

/** Languages that have message catalogues under locales/ (CONTRACT §4 "Languages"). */
export const SUPPORTED_LOCALES = ['en', 'de'] as const;
export type Locale = (typeof SUPPORTED_LOCALES)[number];

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** Raw keys as they appear in the environment and in config/*.json. */
const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(0, 65535),
  HOST: z.string().min(1),
  PUBLIC_URL: httpUrl.optional(),
  DATABASE_URL: z.string().regex(/^(postgres(ql)?:\/\/.+|sqlite:.+)$/, 'expected postgres://… or sqlite:PATH').optional(),
  DATABASE_READ_URLS: list.pipe(z.array(z.string().regex(/^postgres(ql)?:\/\/.+/, 'expected postgres://…'))).default([]),
  REDIS_URL: z.string().regex(/^rediss?:\/\/.+/, 'expected redis://…').optional(),
  REDIS_CLUSTER_NODES: list.pipe(z.array(z.string().regex(/^[^:\s]+:\d{1,5}$/, 'expected host:port'))).default([]),
  COOKIE_KEYS: list.pipe(z.array(z.string().min(1))).optional(),
  ACCESS_TOKEN_TTL: int(60, 86_400),
  REFRESH_TOKEN_TTL: int(300, 31_536_000),
  ADMIN_EMAIL: z.email().optional(),
  ADMIN_PASSWORD: z.string().min(8).max(256).optional(),
  ADMIN_ROLE: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'expected a role name (letters, digits and _ . : -, 64 at most)').default('idp_admin'),
  SMTP_URL: z.string().regex(/^smtps?:\/\/.+/, 'expected smtp://user:pass@host:port').optional(),
  MAIL_FROM: z.string().min(3),
  REQUIRE_EMAIL_VERIFICATION: bool,
  COMPAT_PROFILES: compatProfiles,
  /** The JSON form of COMPAT_PROFILES in a config file (COMPAT_PROFILES from the environment wins). */
  compat: compatProfiles.optional(),
  OIDC_CLIENTS_FILE: optionalString,
  OIDC_RESOURCES: resources.optional(),
  CORS_ORIGINS: list.pipe(z.array(z.url())).default([]),
  TRUST_PROXY: bool,
  LOG_LEVEL: logLevel,
  ACCESS_LOG: z.enum(['all', 'errors', 'off']),
  MIGRATE_ON_START: bool.optional(),
  DATA_DIR: z.string().min(1),
  ARGON2_MEMORY_KIB: int(1024, 4_194_304),
  ARGON2_TIME_COST: int(1, 100),
  ARGON2_PARALLELISM: int(1, 64),
  WORKERS: int(1, 64),
  METRICS_TOKEN: optionalString,
  KEY_ENCRYPTION_KEY: keyEncryptionKey.optional(),
  CLIENT_REGISTRATION: z.enum(['off', 'token', 'open']).default('off'),
  CLIENT_ID_METADATA_DOCUMENTS: metadataDocuments.default({ mode: 'off', hostSuffixes: [], loopback: false }),
  REFRESH_REUSE_INTERVAL: int(0, 300).default(0),
  MFA_POLICY: mfaPolicy,
  REGISTRATION: z.enum(['open', 'closed']),
  UI_LOCALES: list.pipe(z.array(z.enum(SUPPORTED_LOCALES)).min(1, 'expected at least one language')).refine((l) => new Set(l).size === l.length, 'a language is listed twice'),
  BACKCHANNEL_ALLOW_PRIVATE: bool.optional(),
});

type Raw = z.infer<typeof schema>;

export interface Config {
  env: Raw['NODE_ENV'];
  port: number;
  host: string;
  publicUrl: string;
  issuer: string;
  dataDir: string;
  database: { url: string; readUrls: string[]; embedded: boolean; migrateOnStart: boolean };
  redis: { url?: string; clusterNodes: string[]; embedded: boolean };
  cookieKeys?: string[];
  tokens: { accessTokenTtl: number; refreshTokenTtl: number };
  /** `role`: the one role that grants the admin API and console (ADMIN_ROLE); every other role is an application role. */
  admin: { email?: string; password?: string; role: string };
  mail: { smtpUrl?: string; from: string; outboxDir: string };
  requireEmailVerification: boolean;
  compatProfiles: CompatMount[];
  oidc: { clientsFile?: string; resources: Record<string, { scope: string; accessTokenTTL?: number }> };
  corsOrigins: string[];
  trustProxy: boolean;
  logLevel: Raw['LOG_LEVEL'];
  /** Which requests get an access line: every one, the failed and abandoned ones (status ≥ 400), or none. */
  accessLog: Raw['ACCESS_LOG'];
  argon2: { memoryCost: number; timeCost: number; parallelism: number };
  /** libuv's thread pool size (Node's own UV_THREADPOOL_SIZE, default 4): sizes the password-hash queue. */
  hashThreads: number;
  workers: number;
  metricsToken?: string;
  /** Encrypts private signing keys (and later other secrets) at rest; required in production. */
  keyEncryptionKey?: Buffer;
  /** CONTRACT §11: dynamic client registration and client ID metadata documents. */
  agents: {
    clientRegistration: 'off' | 'token' | 'open';
    metadataDocuments: { mode: 'off' | 'any' | 'list'; hostSuffixes: string[]; loopback: boolean };
  };
  /** Seconds during which a just-rotated refresh token presented again gets the same successor (§5). */
  refreshReuseInterval: number;
  mfaPolicy: MfaPolicy;
  /** Self-service sign-up on the legacy APIs and the login page (REGISTRATION). */
  registration: 'open' | 'closed';
  /** Languages of the pages and mails; the first is the default (UI_LOCALES). */
  uiLocales: Locale[];
  /** Deliver back-channel logout tokens to loopback and private addresses (BACKCHANNEL_ALLOW_PRIVATE). */
  backchannelAllowPrivate: boolean;
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** `COMPAT_PROFILES[1].token.sub`: array indexes in brackets, as the README's table names the keys. */
const keyPath = (segments: readonly PropertyKey[]): string =>
  segments.map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i ? '.' : ''}${String(key)}`)).join('');

function readJson(file: string, problems: string[]): Record<string, unknown> {
  if (!existsSync(file)) return {};
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    problems.push(`${path.relative(ROOT, file)}: expected a JSON object`);
  } catch (err) {
    problems.push(`${path.relative(ROOT, file)}: ${(err as Error).message}`);
  }
  return {};
}

/** Environment values that are set but empty count as unset, as in most deploy tools. */
function fromEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    if (key === 'compat') continue;
    const value = env[key];
    if (value !== undefined && value !== '') out[key] = value;
  }
  return out;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, configDir = path.join(ROOT, 'config')): Config {
  const problems: string[] = [];
  const nodeEnv = env.NODE_ENV || 'development';
  const fromFiles = {
    ...readJson(path.join(configDir, 'default.json'), problems),
    ...readJson(path.join(configDir, `${nodeEnv}.json`), problems),
  };
  const environment = fromEnv(env);
  const merged: Record<string, unknown> = { ...fromFiles, ...environment };
  // `compat` (a file's mount array) stands for COMPAT_PROFILES, unless the environment sets that.
  if (merged.compat !== undefined) {
    if (environment.COMPAT_PROFILES === undefined) merged.COMPAT_PROFILES = merged.compat;
    delete merged.compat;
  }
  const unknown = Object.keys(merged).filter((k) => !(k in schema.shape));
  for (const key of unknown) problems.push(`${key}: unknown configuration key`);

  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${keyPath(issue.path) || '(root)'}: ${issue.message}`);
  }
  // Node's own variable, read here only to size the password-hash queue (CONTRACT §6); libuv reads it too.
  const threadpool = z.coerce.number().int().min(1).max(1024).default(4).safeParse(env.UV_THREADPOOL_SIZE || undefined);
  if (!threadpool.success) problems.push('UV_THREADPOOL_SIZE: expected an integer from 1 to 1024');
  if (problems.length || !parsed.success || !threadpool.success) throw new ConfigError(problems);
  const raw = parsed.data;
  const compatMounts = raw.COMPAT_PROFILES.map((mount, i) => resolveMount(mount, i, raw, env, problems));
  if (problems.length) throw new ConfigError(problems);

  const publicUrl = (raw.PUBLIC_URL ?? `http://localhost:${raw.PORT}`).replace(/\/+$/, '');
  const dataDir = path.resolve(ROOT, raw.DATA_DIR);
  // The embedded database lives in the data folder unless DATABASE_URL says otherwise.
  const rawDatabaseUrl = raw.DATABASE_URL ?? `sqlite:${path.join(dataDir, 'idp.sqlite')}`;
  const databaseUrl = rawDatabaseUrl.startsWith('sqlite:') && !rawDatabaseUrl.startsWith('sqlite::memory:')
    ? `sqlite:${path.resolve(ROOT, rawDatabaseUrl.slice('sqlite:'.length))}`
    : rawDatabaseUrl;
  const config: Config = {
    env: raw.NODE_ENV,
    port: raw.PORT,
    host: raw.HOST,
    publicUrl,
    issuer: `${publicUrl}/oidc`,
    dataDir,
    database: {
      url: databaseUrl,
      readUrls: raw.DATABASE_READ_URLS,
      embedded: databaseUrl.startsWith('sqlite:'),
      migrateOnStart: raw.MIGRATE_ON_START ?? raw.NODE_ENV !== 'production',
    },
    redis: {
      url: raw.REDIS_URL,
      clusterNodes: raw.REDIS_CLUSTER_NODES,
      embedded: !raw.REDIS_URL && raw.REDIS_CLUSTER_NODES.length === 0,
    },
    cookieKeys: raw.COOKIE_KEYS,
    tokens: { accessTokenTtl: raw.ACCESS_TOKEN_TTL, refreshTokenTtl: raw.REFRESH_TOKEN_TTL },
    admin: { email: raw.ADMIN_EMAIL?.toLowerCase(), password: raw.ADMIN_PASSWORD, role: raw.ADMIN_ROLE },
    mail: { smtpUrl: raw.SMTP_URL, from: raw.MAIL_FROM, outboxDir: path.join(dataDir, 'outbox') },
    requireEmailVerification: raw.REQUIRE_EMAIL_VERIFICATION,
    compatProfiles: compatMounts,
    oidc: { clientsFile: raw.OIDC_CLIENTS_FILE && path.resolve(ROOT, raw.OIDC_CLIENTS_FILE), resources: raw.OIDC_RESOURCES ?? {} },
    corsOrigins: raw.CORS_ORIGINS.map((o) => new URL(o).origin),
    trustProxy: raw.TRUST_PROXY,
    logLevel: raw.LOG_LEVEL,
    accessLog: raw.ACCESS_LOG,
    argon2: { memoryCost: raw.ARGON2_MEMORY_KIB, timeCost: raw.ARGON2_TIME_COST, parallelism: raw.ARGON2_PARALLELISM },
    hashThreads: threadpool.data,
    workers: raw.WORKERS,
    metricsToken: raw.METRICS_TOKEN,
    keyEncryptionKey: raw.KEY_ENCRYPTION_KEY,
    agents: { clientRegistration: raw.CLIENT_REGISTRATION, metadataDocuments: raw.CLIENT_ID_METADATA_DOCUMENTS },
    refreshReuseInterval: raw.REFRESH_REUSE_INTERVAL,
    mfaPolicy: raw.MFA_POLICY,
    registration: raw.REGISTRATION,
    uiLocales: raw.UI_LOCALES,
    backchannelAllowPrivate: raw.BACKCHANNEL_ALLOW_PRIVATE ?? raw.NODE_ENV !== 'production',
  };
  const productionProblems = config.env === 'production' ? productionChecks(config, raw) : [];
  if (productionProblems.length) throw new ConfigError(productionProblems);
  return config;
}

/** Secrets that must never be used in production: too short, or well-known examples. */
const WEAK_SECRETS = new Set(['changeme', 'change-me', 'secret', 'password', 'development', 'dev', 'test', 'some secret']);

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1']);
// zxcvbn's scale: 3 is "safely unguessable: moderate protection from offline slow-hash scenario".
const MIN_ADMIN_PASSWORD_SCORE = 3;
const MIN_DISTINCT_COOKIE_KEY_CHARACTERS = 16;
const MIN_METRICS_TOKEN_LENGTH = 16;

function productionChecks(config: Config, raw: Raw): string[] {
  const problems: string[] = [];
  if (config.database.embedded) problems.push('DATABASE_URL: the embedded SQLite database is not allowed in production; set postgres://…');
  if (config.redis.embedded) problems.push('REDIS_URL: the in-process store is not allowed in production; set REDIS_URL or REDIS_CLUSTER_NODES');
  if (!raw.PUBLIC_URL) problems.push('PUBLIC_URL: required in production (the https:// address clients use)');
  else if (new URL(config.publicUrl).protocol !== 'https:' && !LOCAL_HOSTS.has(new URL(config.publicUrl).hostname)) {
    problems.push('PUBLIC_URL: must be https:// in production (plain http only for localhost or 127.0.0.1)');
  }
  if (!config.cookieKeys?.length) problems.push('COOKIE_KEYS: required in production (comma-separated random keys, 32+ characters each)');
  else if (config.cookieKeys.some((k) => k.length < 32 || new Set(k).size < MIN_DISTINCT_COOKIE_KEY_CHARACTERS || WEAK_SECRETS.has(k.toLowerCase()))) {
    problems.push(`COOKIE_KEYS: every key must be a random value of at least 32 characters, ${MIN_DISTINCT_COOKIE_KEY_CHARACTERS} or more of them distinct`);
  }
  if (config.admin.password) {
    const score = passwordScore(config.admin.password, [config.admin.email ?? '', 'admin', 'administrator', 'idp']);
    if (score < MIN_ADMIN_PASSWORD_SCORE) {
      problems.push(`ADMIN_PASSWORD: too easy to guess (strength ${score} of 4, at least ${MIN_ADMIN_PASSWORD_SCORE} needed in production)`);
    }
  }
  if (!config.keyEncryptionKey) {
    problems.push('KEY_ENCRYPTION_KEY: required in production (32+ random bytes, base64 or hex, e.g. `openssl rand -base64 32`)');
  }
  if (!config.metricsToken) problems.push('METRICS_TOKEN: required in production (the bearer token that /metrics asks for)');
  else if (config.metricsToken.length < MIN_METRICS_TOKEN_LENGTH || WEAK_SECRETS.has(config.metricsToken.toLowerCase())) {
    problems.push(`METRICS_TOKEN: must be a random value of at least ${MIN_METRICS_TOKEN_LENGTH} characters`);
  }
  for (const [i, mount] of config.compatProfiles.entries()) {
    if (mount.token.signing === 'HS256' && Buffer.byteLength(mount.token.secret) < HS256_MIN_SECRET_BYTES) {
      problems.push(`COMPAT_PROFILES[${i}].token.secret_env: ${mount.token.secretEnv} must be at least ${HS256_MIN_SECRET_BYTES} bytes in production`);
    }
  }
  if (config.argon2.memoryCost < 19_456 || config.argon2.timeCost < 2) {
    problems.push('ARGON2_MEMORY_KIB/ARGON2_TIME_COST: below OWASP minimum (19456 KiB, t=2) in production');
  }
  if (config.agents.metadataDocuments.loopback) {
    problems.push('CLIENT_ID_METADATA_DOCUMENTS: loopback (http documents on 127.0.0.1) is for tests and not allowed in production');
  }
  return problems;
}
