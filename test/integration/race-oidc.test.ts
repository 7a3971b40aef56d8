/**
 * Races at the OIDC token endpoint (CONTRACT §4, §6), in both modes: 20 parallel exchanges of one
 * authorization code and 10 parallel refreshes of one (rotating) refresh token each give at most one
 * success, and the replay revokes what the code or the token family produced.
 */
import { expect } from 'chai';
import { MODES } from '../helpers/app.ts';
import { UserAgent } from '../e2e/helpers/user-agent.ts';
import { CLIENTS, authorize, startOidcEnv, type OidcEnv } from '../e2e/helpers/oidc-env.ts';

interface TokenReply {
  status: number;
  body: { access_token?: string; refresh_token?: string; error?: string };
}

for (const mode of MODES) {
  describe(`races at /oidc/token, ${mode.name}`, function () {
    this.timeout(40_000);
    let env: OidcEnv;
    let tokenEndpoint: string;

    before(async function () {
      this.timeout(60_000);
      env = await startOidcEnv({ database: mode.database, store: mode.store, mocha: this });
      tokenEndpoint = `${env.issuer}/token`;
    });
    after(async () => env?.close());

    async function token(form: Record<string, string>): Promise<TokenReply> {
      const res = await fetch(tokenEndpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });
      return { status: res.status, body: (await res.json()) as TokenReply['body'] };
    }

    async function userinfo(accessToken: string): Promise<number> {
      return (await fetch(`${env.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } })).status;
    }

    async function codeFor(scope: string): Promise<{ code: string; verifier: string }> {
      const spa = await env.discover('spa');
      const run = await authorize(new UserAgent(), spa, {
        redirectUri: CLIENTS.spa.redirect_uris[0],
        scope,
        user: { login: env.user.username, password: env.user.password },
      });
      const code = run.callback.searchParams.get('code');
      if (!code) throw new Error(`no code in ${run.callback.href}`);
      return { code, verifier: run.verifier };
    }

    const exchange = (code: string, verifier: string) =>
      token({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: CLIENTS.spa.redirect_uris[0], client_id: CLIENTS.spa.client_id });

    it('of 20 parallel exchanges of one authorization code at most one succeeds, and the replay revokes its tokens', async () => {
      const { code, verifier } = await codeFor('openid offline_access');
      const replies = await Promise.all(Array.from({ length: 20 }, () => exchange(code, verifier)));
      const winners = replies.filter((r) => r.status === 200);
      // At most one (the guarantee), and not none: the client that raced itself still gets its tokens.
      expect(winners.length).to.equal(1);
      for (const loser of replies.filter((r) => r.status !== 200)) {
        expect(loser.status).to.equal(400);
        expect(loser.body.error).to.equal('invalid_grant');
      }
      // One more use after the race: certainly a replay, so whatever the code produced is revoked.
      expect((await exchange(code, verifier)).status).to.equal(400);
      const winner = winners[0];
      if (winner) {
        expect(await userinfo(winner.body.access_token!)).to.equal(401);
        expect((await token({ grant_type: 'refresh_token', refresh_token: winner.body.refresh_token!, client_id: CLIENTS.spa.client_id })).status).to.equal(400);
      }
    });

    it('of 10 parallel refreshes of one refresh token at most one succeeds', async () => {
      const { code, verifier } = await codeFor('openid offline_access');
      const first = await exchange(code, verifier);
      expect(first.status).to.equal(200);
      const refresh = first.body.refresh_token!;
      const replies = await Promise.all(
        Array.from({ length: 10 }, () => token({ grant_type: 'refresh_token', refresh_token: refresh, client_id: CLIENTS.spa.client_id })),
      );
      const winners = replies.filter((r) => r.status === 200);
      // At most one (the guarantee), and not none: the client that raced itself still gets its tokens.
      expect(winners.length).to.equal(1);
      for (const loser of replies.filter((r) => r.status !== 200)) {
        expect(loser.status).to.equal(400);
        expect(loser.body.error).to.equal('invalid_grant');
      }
      // The rotated token used again is a replay: the whole grant goes, the winner's tokens with it.
      expect((await token({ grant_type: 'refresh_token', refresh_token: refresh, client_id: CLIENTS.spa.client_id })).status).to.equal(400);
      const winner = winners[0];
      if (winner) {
        expect(await userinfo(winner.body.access_token!)).to.equal(401);
        expect((await token({ grant_type: 'refresh_token', refresh_token: winner.body.refresh_token!, client_id: CLIENTS.spa.client_id })).status).to.equal(400);
      }
    });
  });
}
