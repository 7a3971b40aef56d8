import { expect } from 'chai';
import type { Context } from 'koa';
import { bearerAuth, type BearerAuthServices } from '../../src/http/middleware/bearer-auth.ts';
import type { AccountView } from '../../src/services/accounts/view.ts';

/** The bearer middleware of an HS256 mount whose `sub` is the username, over fakes that count look-ups. */
function harness(sessionAlive: () => boolean) {
  const lookups: string[] = [];
  const services = {
    tokens: { verifyAccessToken: async (token: string) => ({ sub: token.split('.')[0], session_id: `s-${token}` }) },
    sessions: {
      get: async (userId: string, sid: string) => (sessionAlive() ? { session_id: sid, user_id: userId } : undefined),
      touch: async () => undefined,
    },
    accounts: {
      getById: async (id: string) => ({ id, status: 'active', email_verified: true }) as unknown as AccountView,
      userIdBySubject: async (_layout: 'username' | 'number', value: string) => {
        lookups.push(value);
        return value === 'nobody' ? undefined : `id-of-${value}`;
      },
    },
  } as unknown as BearerAuthServices;
  const middleware = bearerAuth(services, { hmac: { key: new Uint8Array(32), sub: 'username', issuer: 'x' } });
  async function call(token: string): Promise<string | undefined> {
    const ctx = { get: () => `Bearer ${token}`, state: {} } as unknown as Context;
    await middleware(ctx, async () => undefined);
    return ctx.state.auth?.account.id;
  }
  return { call, lookups };
}

describe('bearer auth on an HS256 mount whose sub is a username', () => {
  it('looks the username up once per token, and still checks the session on every request', async () => {
    let alive = true;
    const { call, lookups } = harness(() => alive);
    expect(await call('jo.sig1')).to.equal('id-of-jo');
    expect(await call('jo.sig1')).to.equal('id-of-jo');
    expect(await call('jo.sig2')).to.equal('id-of-jo');
    expect(lookups).to.deep.equal(['jo', 'jo']);
    alive = false;
    let refused: unknown;
    await call('jo.sig1').catch((err: unknown) => (refused = err));
    expect(refused, 'a revoked session fails at once, cached or not').to.be.instanceOf(Error);
  });

  it('refuses a token whose username names nobody, and does not remember the miss', async () => {
    const { call, lookups } = harness(() => true);
    for (let i = 0; i < 2; i += 1) {
      let refused: unknown;
      await call('nobody.sig').catch((err: unknown) => (refused = err));
      expect(refused).to.be.instanceOf(Error);
    }
    expect(lookups).to.deep.equal(['nobody', 'nobody']);
  });
});
