import { expect } from 'chai';
import { createLogger } from '../../src/logger.ts';
import { wireSessionHooks } from '../../src/dependencies.ts';
import { createMemoryStore } from '../../src/store/memory-store.ts';
import { createSessionService, type SessionService } from '../../src/services/sessions.ts';
import { createSessionLink } from '../../src/oidc/session-link.ts';
import type { OidcStorage } from '../../src/oidc/adapter.ts';

const USER = '3d1c6f3e-5b0a-4c55-9d4e-2f8f1a0b7c11';
const ctx = { door: 'test', ip: '10.1.2.3' };

/** The slice of the provider's storage the link uses: one SSO session `sso-1` with grant `g-1`, and an offline grant `g-2`. */
function fakeStorage(revoked: string[], options: { failRevoke?: () => boolean } = {}) {
  const sso = { ref: 'ref-1', payload: { uid: 'sso-1', accountId: USER, authorizations: { app: { grantId: 'g-1' } } } };
  const storage = {
    async findSessionByUid(uid: string) {
      return uid === 'sso-1' ? sso : undefined;
    },
    async destroySession() {},
    async revokeGrant(grantId: string) {
      if (options.failRevoke?.()) throw new Error('grant store down');
      revoked.push(grantId);
    },
    async grantIdsOfAccount(accountId: string) {
      return accountId === USER ? ['g-1', 'g-2'] : [];
    },
  };
  return storage as unknown as OidcStorage;
}

describe('session hooks wired in the composition root (src/dependencies.ts wireSessionHooks)', () => {
  let sessions: SessionService;
  const logger = createLogger({ level: 'silent' });

  beforeEach(() => {
    sessions = createSessionService({ store: createMemoryStore(), defaultTtlSeconds: 3600 });
  });

  it('building the OIDC session link registers nothing by itself: a revoked session leaves the grants alone', async () => {
    const revoked: string[] = [];
    createSessionLink({ store: createMemoryStore(), storage: fakeStorage(revoked), sessions, sessionTtlSeconds: 3600, logger });
    const s = await sessions.create({ userId: USER, kind: 'oidc', context: ctx, oidc: { sessionUid: 'sso-1' } });
    expect(await sessions.revoke(USER, s.session_id, 'revoked')).to.equal(true);
    expect(revoked).to.deep.equal([]);
  });

  it('once wired, revoking an OIDC session revokes the grants of its SSO session, and revokeAll every grant of the user', async () => {
    const revoked: string[] = [];
    const link = createSessionLink({ store: createMemoryStore(), storage: fakeStorage(revoked), sessions, sessionTtlSeconds: 3600, logger });
    wireSessionHooks(sessions, link);
    const s = await sessions.create({ userId: USER, kind: 'oidc', context: ctx, oidc: { sessionUid: 'sso-1' } });
    expect(await sessions.revoke(USER, s.session_id, 'revoked')).to.equal(true);
    expect(revoked).to.deep.equal(['g-1']);
    revoked.length = 0;
    await sessions.create({ userId: USER, kind: 'password', context: ctx });
    expect(await sessions.revokeAll(USER, { reason: 'admin' })).to.equal(1);
    expect(revoked).to.deep.equal(['g-1', 'g-2']);
  });

  it('a password session is not the link’s business: revoking it touches no grant', async () => {
    const revoked: string[] = [];
    wireSessionHooks(sessions, createSessionLink({ store: createMemoryStore(), storage: fakeStorage(revoked), sessions, sessionTtlSeconds: 3600, logger }));
    const s = await sessions.create({ userId: USER, kind: 'password', context: ctx });
    expect(await sessions.revoke(USER, s.session_id, 'revoked')).to.equal(true);
    expect(revoked).to.deep.equal([]);
  });

  it('when the grants cannot be revoked, the session is not reported ended and stays, so the revocation can be retried', async () => {
    const revoked: string[] = [];
    let down = true;
    wireSessionHooks(sessions, createSessionLink({ store: createMemoryStore(), storage: fakeStorage(revoked, { failRevoke: () => down }), sessions, sessionTtlSeconds: 3600, logger }));
    const s = await sessions.create({ userId: USER, kind: 'oidc', context: ctx, oidc: { sessionUid: 'sso-1' } });
    const error = await sessions.revoke(USER, s.session_id, 'revoked').then(() => undefined, (err: unknown) => err);
    expect(error).to.be.instanceOf(Error);
    expect(await sessions.get(USER, s.session_id)).to.not.equal(undefined);
    down = false;
    expect(await sessions.revoke(USER, s.session_id, 'revoked')).to.equal(true);
    expect(revoked).to.deep.equal(['g-1']);
  });
});
