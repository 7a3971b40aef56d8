/**
 * A small HTTP client for the legacy mounts, and one adapter per profile that knows its field names and
 * where its tokens and error messages live, so one contract suite can drive all four profiles.
 */
import { randomBytes } from 'node:crypto';

export interface HttpResult {
  status: number;
  headers: Headers;
  /** Parsed JSON when the response is JSON, else the text. */
  body: unknown;
}

/** The value at a dotted path of a parsed body (`field(body, 'data.token.access_token')`). */
export function field(body: unknown, path: string): unknown {
  let current = body;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

export interface RequestOptions {
  token?: string;
  json?: unknown;
  form?: Record<string, string>;
  headers?: Record<string, string>;
  /** A raw body, sent as is (with `headers` giving its type). */
  raw?: string;
}

export async function http(method: string, url: string, options: RequestOptions = {}): Promise<HttpResult> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined = options.raw;
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  }
  if (options.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  }
  const response = await fetch(url, { method, headers, body, redirect: 'manual' });
  const text = await response.text();
  let parsed: unknown = text;
  if ((response.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
  return { status: response.status, headers: response.headers, body: parsed };
}

export interface TestUser {
  username: string;
  email: string;
  password: string;
}

export function newUser(tag = 'u'): TestUser {
  const id = randomBytes(5).toString('hex');
  return { username: `${tag}_${id}`, email: `${tag}.${id}@Example.com`, password: `pw-${id}-secret` };
}

export interface Tokens {
  access: string;
  refresh: string;
}

export interface ProfileAdapter {
  name: 'auth-service' | 'aurora' | 'v2' | 'envelope';
  prefix: string;
  registerStatus: number;
  registerBody(user: TestUser): Record<string, unknown>;
  loginBody(user: TestUser, password?: string): Record<string, unknown>;
  /** The token pair of a login or refresh response. */
  tokens(body: unknown): Tokens;
  /** The payload of a success response (envelope: `data`). */
  data(body: unknown): unknown;
  /** The message of a reply that is only a message (envelope: `data.message`). */
  message(body: unknown): string;
  /** The human message of an error response (`detail`, or envelope `error.message`). */
  error(body: unknown): string;
  envelope: boolean;
}

type Json = Record<string, unknown>;
const obj = (value: unknown): Json => value as Json;

const flat = {
  tokens: (body: unknown) => ({ access: String(obj(body).access_token), refresh: String(obj(body).refresh_token) }),
  data: (body: unknown) => body,
  message: (body: unknown) => String(obj(body).message),
  error: (body: unknown) => obj(body).detail as string,
  envelope: false,
};

export const PROFILE_ADAPTERS: ProfileAdapter[] = [
  {
    name: 'auth-service',
    prefix: '/auth',
    registerStatus: 200,
    registerBody: (u) => ({ username: u.username, email: u.email, password: u.password }),
    loginBody: (u, password = u.password) => ({ username: u.username, password }),
    ...flat,
  },
  {
    name: 'aurora',
    prefix: '/api/v1/auth',
    registerStatus: 201,
    registerBody: (u) => ({ username: u.username, email: u.email, password: u.password, full_name: 'Test User' }),
    loginBody: (u, password = u.password) => ({ username: u.username, password }),
    ...flat,
  },
  {
    name: 'v2',
    prefix: '/api/v2/auth',
    registerStatus: 201,
    registerBody: (u) => ({ email: u.email, password: u.password, full_name: 'Test User' }),
    loginBody: (u, password = u.password) => ({ email: u.email, password }),
    ...flat,
  },
  {
    name: 'envelope',
    prefix: '/api/env/auth',
    registerStatus: 201,
    registerBody: (u) => ({ username: u.username, email: u.email, password: u.password, full_name: 'Test User' }),
    loginBody: (u, password = u.password) => ({ username: u.username, password }),
    tokens: (body) => {
      const data = obj(obj(body).data);
      const token = obj(data.token ?? data);
      return { access: String(token.access_token), refresh: String(token.refresh_token) };
    },
    data: (body) => obj(body).data,
    message: (body) => String(obj(obj(body).data).message),
    // Seed 002 enveloped two errors only; every other one is FastAPI's `detail`.
    error: (body) => (obj(body).error ? String(obj(obj(body).error).message) : (obj(body).detail as string)),
    envelope: true,
  },
];

/**
 * Mount options that behave the same on every profile (30-min opaque rotated tokens, no e-mail check, a
 * missing bearer is the 401 of a bad one), so suites that are not about the options can treat the
 * profiles alike. legacy.options.test.ts runs each option both ways, and the defaults.
 */
export const UNIFORM_OPTIONS = {
  access_token_ttl: 1800,
  refresh: 'rotate',
  refresh_token_format: 'opaque',
  require_email_verification: false,
  missing_bearer: 401,
} as const;

/** COMPAT_PROFILES (JSON form) mounting every adapter's profile at its prefix with UNIFORM_OPTIONS. */
export const ALL_PROFILES = JSON.stringify(PROFILE_ADAPTERS.map((p) => ({ prefix: p.prefix, profile: p.name, ...UNIFORM_OPTIONS })));

/** COMPAT_PROFILES in the short form: every profile with the defaults that copy its original service. */
export const ALL_PROFILES_DEFAULTS = PROFILE_ADAPTERS.map((p) => `${p.prefix}=${p.name}`).join(',');

/** Convenience calls against one mounted profile. */
export function legacyClient(baseUrl: string, profile: ProfileAdapter) {
  const url = (path: string) => `${baseUrl}${profile.prefix}${path}`;
  const client = {
    url,
    get: (path: string, options?: RequestOptions) => http('GET', url(path), options),
    post: (path: string, options?: RequestOptions) => http('POST', url(path), options),
    put: (path: string, options?: RequestOptions) => http('PUT', url(path), options),
    delete: (path: string, options?: RequestOptions) => http('DELETE', url(path), options),

    async register(user: TestUser): Promise<HttpResult> {
      const result = await client.post('/register', { json: profile.registerBody(user) });
      if (result.status !== profile.registerStatus) throw new Error(`register failed: ${result.status} ${JSON.stringify(result.body)}`);
      return result;
    },

    async login(user: TestUser, headers?: Record<string, string>): Promise<Tokens> {
      const result = await client.post('/login', { json: profile.loginBody(user), headers });
      if (result.status !== 200) throw new Error(`login failed: ${result.status} ${JSON.stringify(result.body)}`);
      return profile.tokens(result.body);
    },

    /** A fresh user, registered and logged in. */
    async signedIn(tag?: string): Promise<{ user: TestUser; tokens: Tokens }> {
      const user = newUser(tag);
      await client.register(user);
      return { user, tokens: await client.login(user) };
    },
  };
  return client;
}

export type LegacyClient = ReturnType<typeof legacyClient>;
