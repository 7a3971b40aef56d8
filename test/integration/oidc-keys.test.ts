/**
 * One key set in the database for OIDC: after `keys:rotate` and a restart, ID tokens are signed with
 * the new key while the old one stays published, so tokens it signed still verify.
 */
import type { Server } from 'node:http';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { createOidc } from '../../src/oidc/index.ts';
import { createServerApp } from '../../src/server.ts';
import { ServiceUnavailableError } from '../../src/errors.ts';
import { UserAgent } from '../e2e/helpers/user-agent.ts';
import { authorize, CLIENTS, startOidcEnv, type OidcEnv } from '../e2e/helpers/oidc-env.ts';

describe('OIDC signing keys across a rotation (embedded)', function () {
  this.timeout(30_000);
  let env: OidcEnv;
  let restarted: Server | undefined;

  before(async () => {
    env = await startOidcEnv({ database: 'sqlite', store: 'memory' });
  });
  after(async () => {
    restarted?.closeAllConnections();
    await new Promise<void>((resolve) => (restarted ? restarted.close(() => resolve()) : resolve()));
    await env?.close();
  });

  async function idToken(): Promise<string> {
    const config = await env.discover('spa');
    const run = await authorize(new UserAgent(), config, {
      redirectUri: CLIENTS.spa.redirect_uris[0],
      scope: 'openid',
      user: { login: env.user.email, password: env.user.password },
    });
    const tokens = await oidc.authorizationCodeGrant(config, run.callback, { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce });
    return tokens.id_token as string;
  }

  const jwks = async () => (await (await fetch(`${env.issuer}/jwks`)).json()) as JSONWebKeySet;

  it('signs with the new key after a restart and keeps publishing the old one', async () => {
    const { deps } = env.server;
    const before = await idToken();
    const oldKid = decodeProtectedHeader(before).kid;
    expect(oldKid).to.equal((await deps.keys.load()).signing.RS256.kid);

    const [newEs256, newRs256] = await deps.keys.rotate();
    expect(decodeProtectedHeader(await idToken()).kid, 'the running process keeps its key until restarted').to.equal(oldKid);

    // Restart: a new provider from the same database, on the same address.
    const oidcDoor = await createOidc({
      config: deps.config,
      logger: deps.logger,
      store: deps.store,
      models: deps.models,
      keySet: await deps.keys.load(),
      passwords: deps.passwords,
      accounts: deps.accounts,
      sessions: deps.sessions,
      audit: deps.audit,
      resources: deps.resources,
      cookieKeys: deps.cookieKeys,
      pages: deps.views,
      i18n: deps.i18n,
      isUnavailable: (err) => err instanceof ServiceUnavailableError,
    });
    const { server } = await createServerApp({ ...deps, oidc: oidcDoor });
    env.server.server.closeAllConnections();
    await new Promise<void>((resolve) => env.server.server.close(() => resolve()));
    restarted = server;
    await new Promise<void>((resolve) => server.listen(env.server.config.port, '127.0.0.1', resolve));
    // Let the HTTP client notice that its pooled connections to the old server are gone.
    await new Promise((resolve) => setTimeout(resolve, 100));

    const published = (await jwks()).keys.map((key) => key.kid);
    expect(published).to.include.members([oldKid, newEs256, newRs256]);
    expect((await jwks()).keys.every((key) => !('d' in key)), 'public keys only').to.equal(true);
    const after = await idToken();
    expect(decodeProtectedHeader(after).kid).to.equal(newRs256);
    const keySet = createLocalJWKSet(await jwks());
    await jwtVerify(before, keySet, { issuer: env.issuer, currentDate: new Date() });
    await jwtVerify(after, keySet, { issuer: env.issuer });
  });
});
