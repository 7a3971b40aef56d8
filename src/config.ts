/**
 * Configuration: declared defaults ← config/default.json ← config/<NODE_ENV>.json ← environment.
 * Every key is declared once here, in KEYS: its check, its default and its meaning (the README's table is
 * made from it); this is the only module that reads process.env. Bad values are collected, one message
 * per key, and thrown together.
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

/**
 * One configuration key: how it is checked (zod), its default, and what it means. The README's table is
 * this table (test/unit/config-readme.test.ts keeps the two equal; `configurationTable()` writes it).
 */
export interface Declaration {
  schema: z.ZodType;
  /** The value when neither a config file nor the environment sets it, written as it would be there. */
  default?: string | number | boolean;
  /** The README's default column where it is not just `default`: derived values, or what unset means. */
  shown?: string;
  /** The README's meaning column. */
  meaning: string;
}

/**
 * Every key, in the README's order. Raw names, as they appear in the environment and in config/*.json;
 * a key without a default may stay unset (its schema says what that means).
 */
const KEYS = {
  NODE_ENV: {
    schema: z.enum(['development', 'production', 'test']),
    default: 'development',
    meaning: '`production` enables the start-up refusals above; `test` loads `config/test.json`',
  },
  PORT: { schema: int(0, 65535), default: 3000, meaning: 'HTTP port' },
  HOST: { schema: z.string().min(1), default: '0.0.0.0', meaning: 'bind address' },
  PUBLIC_URL: {
    schema: httpUrl.optional(),
    shown: '`http://localhost:$PORT`',
    meaning: 'external base URL; the OIDC issuer is `$PUBLIC_URL/oidc`',
  },
  DATABASE_URL: {
    schema: z.string().regex(/^(postgres(ql)?:\/\/.+|sqlite:.+)$/, 'expected postgres://… or sqlite:PATH').optional(),
    shown: '`sqlite:data/idp.sqlite`',
    meaning: '`postgres://…` or `sqlite:PATH`',
  },
  DATABASE_READ_URLS: {
    schema: list.pipe(z.array(z.string().regex(/^postgres(ql)?:\/\/.+/, 'expected postgres://…'))).default([]),
    meaning: 'comma-separated PostgreSQL read replicas (Sequelize replication)',
  },
  REDIS_URL: {
    schema: z.string().regex(/^rediss?:\/\/.+/, 'expected redis://…').optional(),
    shown: 'none = in-process store',
    meaning: '`redis://…`',
  },
  REDIS_CLUSTER_NODES: {
    schema: list.pipe(z.array(z.string().regex(/^[^:\s]+:\d{1,5}$/, 'expected host:port'))).default([]),
    meaning: 'comma-separated `host:port` seeds of a Redis Cluster',
  },
  COOKIE_KEYS: {
    schema: list.pipe(z.array(z.string().min(1))).optional(),
    shown: 'generated, kept in `data/`',
    meaning: 'comma-separated keys for signed cookies (required in production, 32+ chars each, 16+ of them distinct)',
  },
  ACCESS_TOKEN_TTL: { schema: int(60, 86_400), default: 1800, meaning: 'seconds, for every access token' },
  REFRESH_TOKEN_TTL: { schema: int(300, 31_536_000), default: 2_592_000, meaning: 'seconds (30 days)' },
  ADMIN_EMAIL: { schema: z.email().optional(), meaning: 'bootstrap admin on an empty database (with `ADMIN_PASSWORD`)' },
  ADMIN_PASSWORD: { schema: z.string().min(8).max(256).optional(), meaning: 'the bootstrap admin\'s password (with `ADMIN_EMAIL`)' },
  ADMIN_ROLE: {
    schema: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'expected a role name (letters, digits and _ . : -, 64 at most)'),
    default: 'idp_admin',
    meaning: 'the one role that grants the admin API and console; every other role (`admin`, `pmc_admin`, …) is an application role, only carried into tokens and legacy responses',
  },
  SMTP_URL: {
    schema: z.string().regex(/^smtps?:\/\/.+/, 'expected smtp://user:pass@host:port').optional(),
    shown: 'none = outbox folder',
    meaning: '`smtp://user:pass@host:port`',
  },
  MAIL_FROM: { schema: z.string().min(3), default: 'Identity Provider <no-reply@localhost>', meaning: 'sender of verification and reset mail' },
  REQUIRE_EMAIL_VERIFICATION: {
    schema: bool,
    default: false,
    meaning: 'protected routes answer 403 for unverified users (a mount\'s `require_email_verification` wins; the `envelope` profile\'s default is `true`); the login page shows a "verify your e-mail" page (with a resend button) instead of signing them in',
  },
  COMPAT_PROFILES: {
    schema: compatProfiles,
    default: '/auth=auth-service,/api/v1/auth=aurora,/api/v2/auth=v2',
    meaning: 'legacy mounts: the short form `prefix=profile` (profiles `auth-service`, `aurora`, `v2`, `envelope`) or a JSON array of mount objects with options (below); the same array may sit under `compat` in `config/<NODE_ENV>.json`',
  },
  OIDC_CLIENTS_FILE: { schema: optionalString, meaning: 'JSON array of client metadata loaded at start' },
  OIDC_RESOURCES: {
    schema: resources.optional(),
    meaning: 'JSON object: resource indicator → `{"scope": "…", "accessTokenTTL": s}`; more come from `POST /admin/api/resources` (read through a 5 s cache per process)',
  },
  CLIENT_REGISTRATION: {
    schema: z.enum(['off', 'token', 'open']),
    default: 'off',
    meaning: 'OAuth dynamic client registration at `/oidc/reg`: `off`, `token` (needs a one-time initial access token from `POST /admin/api/initial-access-tokens`), `open` (public or `private_key_jwt` clients only, see below)',
  },
  CLIENT_ID_METADATA_DOCUMENTS: {
    schema: metadataDocuments,
    default: 'off',
    meaning: 'https URLs as `client_id` (client ID metadata documents): `off`, `any`, or comma-separated host suffixes (`claude.ai,chatgpt.com`); `loopback` in the list allows http documents on 127.0.0.1 for tests and is refused in production',
  },
  REFRESH_REUSE_INTERVAL: {
    schema: int(0, 300),
    default: 0,
    meaning: 'seconds during which a just-rotated refresh token (OIDC, or a legacy mount under `rotate`) presented again gets the same successor pair instead of revoking the grant or session (max 300)',
  },
  CORS_ORIGINS: { schema: list.pipe(z.array(z.url())).default([]), meaning: 'comma-separated origins allowed to call the legacy and admin APIs from a browser' },
  TRUST_PROXY: { schema: bool, default: false, meaning: 'take the client IP from `X-Forwarded-For` (only behind a proxy you run)' },
  LOG_LEVEL: { schema: logLevel, default: 'info', meaning: 'pino level (`silent` in tests)' },
  ACCESS_LOG: {
    schema: z.enum(['all', 'errors', 'off']),
    default: 'all',
    meaning: 'access lines: `all` (one per request), `errors` (status ≥ 400, abandoned requests included), `off`; metrics count every request whatever this says',
  },
  MIGRATE_ON_START: { schema: bool.optional(), shown: '`true` outside production', meaning: 'run pending migrations at start-up' },
  DATA_DIR: {
    schema: z.string().min(1),
    default: 'data',
    meaning: 'folder of the embedded default (SQLite file, outbox, generated cookie keys, admin password); created `0700`, every file in it `0600` (modes of an existing folder are fixed at start)',
  },
  ARGON2_MEMORY_KIB: { schema: int(1024, 4_194_304), default: 19_456, meaning: 'argon2id memory in KiB (OWASP minimum; production refuses less; tests lower it)' },
  ARGON2_TIME_COST: { schema: int(1, 100), default: 2, meaning: 'argon2id passes (production refuses fewer than 2; tests lower it)' },
  ARGON2_PARALLELISM: { schema: int(1, 64), default: 1, meaning: 'argon2id lanes' },
  WORKERS: { schema: int(1, 64), default: 1, meaning: 'server processes sharing the port' },
  KEY_ENCRYPTION_KEY: {
    schema: keyEncryptionKey.optional(),
    shown: 'none (required in production)',
    meaning: '32+ byte secret (base64 or hex) that encrypts private signing keys, upstream secrets and TOTP secrets at rest',
  },
  METRICS_TOKEN: {
    schema: optionalString,
    shown: 'none (required in production)',
    meaning: 'bearer token for `/metrics`: when set, `/metrics` requires `Authorization: Bearer $METRICS_TOKEN` (else 401); unset outside production, `/metrics` is open',
  },
  MFA_POLICY: {
    schema: mfaPolicy,
    default: 'optional',
    meaning: '`optional`, `required` (everyone), or `roles:<name>,<name>` (holders of those roles): who must use a second factor (see *Second factors and passkeys*)',
  },
  REGISTRATION: {
    schema: z.enum(['open', 'closed']),
    default: 'open',
    meaning: 'self-service sign-up on the legacy APIs (`/signup`, `/register`) and the login page: `open` or `closed` (then 403)',
  },
  UI_LOCALES: {
    schema: list.pipe(z.array(z.enum(SUPPORTED_LOCALES)).min(1, 'expected at least one language')).refine((l) => new Set(l).size === l.length, 'a language is listed twice'),
    default: 'en,de',
    meaning: 'languages of the pages and mails (`en`, `de`); the first is the default when neither `ui_locales` nor `Accept-Language` names one of them',
  },
  BACKCHANNEL_ALLOW_PRIVATE: {
    schema: bool.optional(),
    shown: '`true` outside production, `false` in it',
    meaning: 'deliver back-channel logout tokens to loopback and private addresses',
  },
} satisfies Record<string, Declaration>;

/** Node's own variables, read from the environment only (a config file cannot reach libuv). */
const NODE_KEYS = {
  UV_THREADPOOL_SIZE: {
    schema: z.coerce.number().int().min(1).max(1024),
    default: 4,
    meaning: 'Node\'s own thread pool size (argon2 runs there); the password-hash queue holds at most 4 × this many jobs',
  },
} satisfies Record<string, Declaration>;

/** Every declared key (the README table's rows). */
export const CONFIG_KEYS: Readonly<Record<string, Declaration>> = { ...KEYS, ...NODE_KEYS };

type Shape<T extends Record<string, Declaration>> = { [K in keyof T]: T[K]['schema'] };
const shapeOf = <T extends Record<string, Declaration>>(keys: T): Shape<T> =>
  Object.fromEntries(Object.entries(keys).map(([key, declaration]) => [key, declaration.schema])) as Shape<T>;

/** The declared defaults: the bottom layer, under config/default.json. */
const DEFAULTS: Record<string, unknown> = Object.fromEntries(
  Object.entries(KEYS).flatMap(([key, declaration]: [string, Declaration]) => (declaration.default === undefined ? [] : [[key, declaration.default]])),
);

/** Raw keys as they appear in the environment and in config/*.json. */
const schema = z.object({
  ...shapeOf(KEYS),
  /** The JSON form of COMPAT_PROFILES in a config file (COMPAT_PROFILES from the environment wins). */
  compat: compatProfiles.optional(),
});

/** The README's configuration table (section "Configuration"), one row per declared key. */
export function configurationTable(): string {
  const rows = Object.entries(CONFIG_KEYS).map(([key, declaration]) => {
    const shown = declaration.shown ?? (declaration.default === undefined ? 'none' : `\`${String(declaration.default)}\``);
    return `| \`${key}\` | ${shown} | ${declaration.meaning} |`;
  });
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

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
    ...DEFAULTS,
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
  const threadpool = NODE_KEYS.UV_THREADPOOL_SIZE.schema.default(NODE_KEYS.UV_THREADPOOL_SIZE.default).safeParse(env.UV_THREADPOOL_SIZE || undefined);
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
    try {
      const score = passwordScore(config.admin.password, [config.admin.email ?? '', 'admin', 'administrator', 'idp']);
      if (score < MIN_ADMIN_PASSWORD_SCORE) {
        problems.push(`ADMIN_PASSWORD: too easy to guess (strength ${score} of 4, at least ${MIN_ADMIN_PASSWORD_SCORE} needed in production)`);
      }
    } catch (err) {
      problems.push(`ADMIN_PASSWORD: could not be checked (${(err as Error).message})`);
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
