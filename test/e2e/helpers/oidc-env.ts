/**
 * A running server with known OIDC clients, resources and users, and helpers to drive the login and
 * consent pages: the fixture every OIDC end-to-end suite starts from.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as oidc from 'openid-client';
import { startTestServer, type TestServer, type TestServerOptions } from '../../helpers/app.ts';
import type { UserAgent, Page } from './user-agent.ts';

/** Relying-party addresses (never listened on: the user agent stops at the redirect). */
export const RP = {
  confidential: 'http://127.0.0.1:7300',
  spa: 'http://127.0.0.1:7301',
  native: 'http://127.0.0.1:7302',
};

export const RESOURCE = 'https://api.test.example';

export const CLIENTS = {
  confidential: {
    client_id: 'notes-app',
    client_secret: 'notes-app-secret-0123456789abcdef0123456789',
    client_name: 'Notes App',
    client_uri: 'https://notes.example',
    redirect_uris: [`${RP.confidential}/cb`],
    post_logout_redirect_uris: [`${RP.confidential}/logged-out`],
    grant_types: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: 'client_secret_basic',
  },
  spa: {
    client_id: 'console-spa',
    client_name: 'Console',
    first_party: true,
    application_type: 'web',
    token_endpoint_auth_method: 'none',
    redirect_uris: [`${RP.spa}/cb`],
    post_logout_redirect_uris: [`${RP.spa}/`],
    grant_types: ['authorization_code', 'refresh_token'],
  },
  service: {
    client_id: 'report-service',
    client_secret: 'report-service-secret-0123456789abcdef012345',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  },
  device: {
    client_id: 'tv-app',
    client_name: 'TV App',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    response_types: [],
    redirect_uris: [],
  },
  resourceServer: {
    client_id: 'notes-api',
    client_secret: 'notes-api-secret-0123456789abcdef0123456789ab',
    grant_types: [],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  },
} as const;

export interface TestUser {
  id: string;
  email: string;
  username: string;
  password: string;
}

export interface OidcEnv {
  server: TestServer;
  issuer: string;
  user: TestUser;
  createUser(name: string, roles?: string[]): Promise<TestUser>;
  discover(client: keyof typeof CLIENTS): Promise<oidc.Configuration>;
  close(): Promise<void>;
}

export async function startOidcEnv(options: TestServerOptions = {}): Promise<OidcEnv> {
  const dir = mkdtempSync(path.join(tmpdir(), 'idp-oidc-'));
  const clientsFile = path.join(dir, 'clients.json');
  writeFileSync(clientsFile, JSON.stringify(Object.values(CLIENTS)));
  const server = await startTestServer({
    ...options,
    env: {
      OIDC_CLIENTS_FILE: clientsFile,
      OIDC_RESOURCES: JSON.stringify({ [RESOURCE]: { scope: 'notes:read notes:write', accessTokenTTL: 600 } }),
      ...options.env,
    },
  });
  const issuer = server.config.issuer;

  async function createUser(name: string, roles: string[] = []): Promise<TestUser> {
    const password = `pw-${name}-correct horse battery`;
    const email = `${name}@example.test`;
    const account = await server.deps.accounts.register(
      { email, password, username: name, fullName: `${name[0]?.toUpperCase()}${name.slice(1)} Tester`, phone: '+15550100' },
      { door: 'cli' },
    );
    for (const role of roles) await server.deps.roles.grant(account.id, role);
    return { id: account.id, email, username: name, password };
  }

  const user = await createUser('alice', ['admin', 'editor']);

  return {
    server,
    issuer,
    user,
    createUser,
    async discover(name) {
      const client = CLIENTS[name];
      const secret = 'client_secret' in client ? client.client_secret : undefined;
      const auth = secret ? oidc.ClientSecretBasic(secret) : oidc.None();
      return oidc.discovery(new URL(issuer), client.client_id, secret ? { client_secret: secret } : undefined, auth, {
        execute: [oidc.allowInsecureRequests],
      });
    },
    async close() {
      await removeStoreKeys(server);
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Deletes this server's keys from the shared Redis (tokens live for days; a test run should not leave them). */
async function removeStoreKeys(server: TestServer): Promise<void> {
  const redis = server.deps.store.redis;
  const prefix = redis?.options.keyPrefix;
  if (!redis || !prefix || !('scanStream' in redis)) return;
  try {
    // ioredis prefixes DEL arguments but not SCAN patterns.
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 500 }) as AsyncIterable<string[]>) {
      const own = keys.filter((key) => key.startsWith(prefix)).map((key) => key.slice(prefix.length));
      if (own.length) await redis.unlink(...own);
    }
  } catch {
    // Redis already gone (an outage test): nothing to clean.
  }
}

/** A fresh PKCE authorization request (scope openid) of `config`'s client: what a relying party opens first. */
export async function authorizationUrl(config: oidc.Configuration, redirectUri: string = CLIENTS.spa.redirect_uris[0]): Promise<URL> {
  return oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid',
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
}

export interface AuthorizationRun {
  /** The callback URL the browser was sent to (with code or error). */
  callback: URL;
  verifier: string;
  state: string;
  nonce: string;
  /** The pages seen on the way (login, consent…), for assertions. */
  pages: Page[];
}

/**
 * Starts an authorization request as `config`'s client and walks the pages: signs in when asked, then
 * approves or denies consent when asked. Stops at the redirect to the relying party.
 */
export async function authorize(
  agent: UserAgent,
  config: oidc.Configuration,
  options: {
    redirectUri: string;
    scope: string;
    user?: { login: string; password: string };
    consent?: 'approve' | 'deny';
    extra?: Record<string, string>;
  },
): Promise<AuthorizationRun> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: options.redirectUri,
    scope: options.scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...options.extra,
  });
  const pages: Page[] = [];
  let page = await agent.open(url.href, options.redirectUri);
  for (let step = 0; step < 4 && page.status !== 0; step += 1) {
    pages.push(page);
    if (page.body.includes('name="password"')) {
      if (!options.user) throw new Error('the login page was shown but no user was given');
      page = await agent.submit(page, '/login', { login: options.user.login, password: options.user.password }, options.redirectUri);
    } else if (page.body.includes('name="decision"')) {
      page = await agent.submit(page, '/confirm', { decision: options.consent ?? 'approve' }, options.redirectUri);
    } else {
      throw new Error(`unexpected page ${page.url} (${page.status}):\n${page.body.slice(0, 1500)}`);
    }
  }
  if (page.status !== 0) throw new Error('the authorization did not return to the relying party');
  return { callback: new URL(page.url), verifier, state, nonce, pages };
}
