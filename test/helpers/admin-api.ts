/** Small helpers for the admin tests: users with roles, legacy logins, JSON calls. */
import type { TestServer } from './app.ts';

export interface Reply<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/** A user made through the account service (as registration does), optionally with roles. */
export async function createUser(
  server: TestServer,
  input: { email: string; password: string; username?: string; fullName?: string; roles?: string[] },
): Promise<string> {
  const account = await server.deps.accounts.register(
    { email: input.email, password: input.password, username: input.username ?? null, fullName: input.fullName ?? null },
    { door: 'test' },
  );
  for (const role of input.roles ?? []) await server.deps.roles.grant(account.id, role);
  return account.id;
}

/** Password login at the auth-service profile; returns the access token. */
export async function login(server: TestServer, username: string, password: string): Promise<string> {
  const res = await fetch(`${server.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`login of ${username} failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

export async function call<T = Record<string, unknown>>(
  server: TestServer,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; rawBody?: string } = {},
): Promise<Reply<T>> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined || options.rawBody !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(server.url + path, {
    method,
    headers,
    body: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  const text = await res.text();
  let body: unknown = text;
  if (text && (res.headers.get('content-type') ?? '').includes('json')) body = JSON.parse(text);
  return { status: res.status, body: body as T, headers: res.headers };
}
