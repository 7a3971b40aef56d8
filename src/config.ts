/**
 * Configuration: defaults ← config/default.json ← config/<NODE_ENV>.json ← environment.
 * Every key is declared once here (with its meaning in the README table); this is the only module that
 * reads process.env. Bad values are collected, one message per key, and thrown together.
 */
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

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

const compatProfiles = z.string().transform((value, ctx) => {
  const mounts: { prefix: string; profile: ProfileName }[] = [];
  for (const entry of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [prefix, profile] = entry.split('=').map((s) => s.trim());
    if (!prefix || !/^(\/[A-Za-z0-9._~-]+)+$/.test(prefix) || !PROFILE_NAMES.includes(profile as ProfileName)) {
      ctx.addIssue({ code: 'custom', message: `bad entry "${entry}": expected /prefix=${PROFILE_NAMES.join('|')}` });
      return z.NEVER;
    }
    if (prefix === '/oidc' || prefix.startsWith('/oidc/') || prefix === '/admin' || prefix.startsWith('/admin/')) {
      ctx.addIssue({ code: 'custom', message: `prefix ${prefix} collides with a built-in route` });
      return z.NEVER;
    }
    mounts.push({ prefix, profile: profile as ProfileName });
  }
  return mounts;
});

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
  SMTP_URL: z.string().regex(/^smtps?:\/\/.+/, 'expected smtp://user:pass@host:port').optional(),
  MAIL_FROM: z.string().min(3),
  REQUIRE_EMAIL_VERIFICATION: bool,
  COMPAT_PROFILES: compatProfiles,
  OIDC_CLIENTS_FILE: optionalString,
  OIDC_RESOURCES: resources.optional(),
  CORS_ORIGINS: list.pipe(z.array(z.url())).default([]),
  TRUST_PROXY: bool,
  LOG_LEVEL: logLevel,
  MIGRATE_ON_START: bool.optional(),
  DATA_DIR: z.string().min(1),
  ARGON2_MEMORY_KIB: int(1024, 4_194_304),
  ARGON2_TIME_COST: int(1, 100),
  ARGON2_PARALLELISM: int(1, 64),
  WORKERS: int(1, 64),
  METRICS_TOKEN: optionalString,
  MFA_POLICY: mfaPolicy,
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
  admin: { email?: string; password?: string };
  mail: { smtpUrl?: string; from: string; outboxDir: string };
  requireEmailVerification: boolean;
  compatProfiles: { prefix: string; profile: ProfileName }[];
  oidc: { clientsFile?: string; resources: Record<string, { scope: string; accessTokenTTL?: number }> };
  corsOrigins: string[];
  trustProxy: boolean;
  logLevel: Raw['LOG_LEVEL'];
  argon2: { memoryCost: number; timeCost: number; parallelism: number };
  workers: number;
  metricsToken?: string;
  mfaPolicy: MfaPolicy;
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

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
    const value = env[key];
    if (value !== undefined && value !== '') out[key] = value;
  }
  return out;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, configDir = path.join(ROOT, 'config')): Config {
  const problems: string[] = [];
  const nodeEnv = env.NODE_ENV || 'development';
  const merged = {
    ...readJson(path.join(configDir, 'default.json'), problems),
    ...readJson(path.join(configDir, `${nodeEnv}.json`), problems),
    ...fromEnv(env),
  };
  const unknown = Object.keys(merged).filter((k) => !(k in schema.shape));
  for (const key of unknown) problems.push(`${key}: unknown configuration key`);

  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  if (problems.length || !parsed.success) throw new ConfigError(problems);
  const raw = parsed.data;

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
    admin: { email: raw.ADMIN_EMAIL?.toLowerCase(), password: raw.ADMIN_PASSWORD },
    mail: { smtpUrl: raw.SMTP_URL, from: raw.MAIL_FROM, outboxDir: path.join(dataDir, 'outbox') },
    requireEmailVerification: raw.REQUIRE_EMAIL_VERIFICATION,
    compatProfiles: raw.COMPAT_PROFILES,
    oidc: { clientsFile: raw.OIDC_CLIENTS_FILE && path.resolve(ROOT, raw.OIDC_CLIENTS_FILE), resources: raw.OIDC_RESOURCES ?? {} },
    corsOrigins: raw.CORS_ORIGINS.map((o) => new URL(o).origin),
    trustProxy: raw.TRUST_PROXY,
    logLevel: raw.LOG_LEVEL,
    argon2: { memoryCost: raw.ARGON2_MEMORY_KIB, timeCost: raw.ARGON2_TIME_COST, parallelism: raw.ARGON2_PARALLELISM },
    workers: raw.WORKERS,
    metricsToken: raw.METRICS_TOKEN,
    mfaPolicy: raw.MFA_POLICY,
  };
  const productionProblems = config.env === 'production' ? productionChecks(config) : [];
  if (productionProblems.length) throw new ConfigError(productionProblems);
  return config;
}

/** Secrets that must never be used in production: too short, or well-known examples. */
const WEAK_SECRETS = new Set(['changeme', 'change-me', 'secret', 'password', 'development', 'dev', 'test', 'some secret']);

function productionChecks(config: Config): string[] {
  const problems: string[] = [];
  if (config.database.embedded) problems.push('DATABASE_URL: the embedded SQLite database is not allowed in production; set postgres://…');
  if (config.redis.embedded) problems.push('REDIS_URL: the in-process store is not allowed in production; set REDIS_URL or REDIS_CLUSTER_NODES');
  if (!config.cookieKeys?.length) problems.push('COOKIE_KEYS: required in production (comma-separated random keys, 32+ characters each)');
  else if (config.cookieKeys.some((k) => k.length < 32 || WEAK_SECRETS.has(k.toLowerCase()))) {
    problems.push('COOKIE_KEYS: every key must be a random value of at least 32 characters');
  }
  if (config.admin.password && WEAK_SECRETS.has(config.admin.password.toLowerCase())) {
    problems.push('ADMIN_PASSWORD: a default or well-known password is not allowed in production');
  }
  if (config.argon2.memoryCost < 19_456 || config.argon2.timeCost < 2) {
    problems.push('ARGON2_MEMORY_KIB/ARGON2_TIME_COST: below OWASP minimum (19456 KiB, t=2) in production');
  }
  return problems;
}
