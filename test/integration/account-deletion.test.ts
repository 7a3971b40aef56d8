/**
 * Deleting one's own account (CONTRACT §10): the password, and the second factor when there is one, both
 * counted toward the login limits (§6); then sessions (legacy and OIDC), grants and their tokens,
 * memberships, factors and the personal organization go, while an organization shared with others stays;
 * audited as `account_deleted`. The last administrator cannot delete themself. The admin's DELETE
 * /users/:id is the same deletion (admin-api tests).
 */
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { MODES } from '../helpers/app.ts';
import { UserAgent } from '../e2e/helpers/user-agent.ts';
import { authorize, CLIENTS, startOidcEnv, type OidcEnv, type TestUser } from '../e2e/helpers/oidc-env.ts';
import { login } from '../helpers/admin-api.ts';
import { totpCode } from '../../src/services/mfa/totp.ts';
import { InvalidMfaCodeError } from '../../src/services/mfa/errors.ts';
import { IncorrectPasswordError } from '../../src/services/accounts/errors.ts';
import { LastAdminError, SecondFactorRequiredError } from '../../src/services/accounts/account-deletion.ts';
import { RateLimitedError } from '../../src/errors.ts';

async function rejected(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  return undefined;
}

async function fails(promise: Promise<unknown>): Promise<boolean> {
  return (await rejected(promise)) !== undefined;
}

for (const mode of MODES) {
  describe(`deleting one's own account (${mode.name})`, function () {
    this.timeout(60_000);
    let env: OidcEnv;
    let notes: oidc.Configuration;
    let counter = 0;

    before(async function () {
      this.timeout(90_000);
      env = await startOidcEnv({ database: mode.database, store: mode.store });
      notes = await env.discover('confidential');
    });
    after(async () => env?.close());

    const ctx = (ip = '127.0.0.1') => ({ door: 'interaction', ip });
    const deps = () => env.server.deps;

    async function me(token: string): Promise<number> {
      return (await fetch(`${env.server.url}/auth/me`, { headers: { authorization: `Bearer ${token}` } })).status;
    }

    /** A user with a legacy session and an OIDC grant with offline access to the Notes App. */
    async function connectedUser(): Promise<{ user: TestUser; legacy: string; refresh: string }> {
      counter += 1;
      const user = await env.createUser(`leaver${counter}`);
      const legacy = await login(env.server, user.username, user.password);
      const run = await authorize(new UserAgent(), notes, {
        redirectUri: CLIENTS.confidential.redirect_uris[0],
        scope: 'openid offline_access',
        user: { login: user.email, password: user.password },
        extra: { prompt: 'consent' },
      });
      const tokens = await oidc.authorizationCodeGrant(notes, run.callback, { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce });
      return { user, legacy, refresh: tokens.refresh_token as string };
    }

    it('with TOTP: refuses a wrong password, no code and a wrong code; with both, everything of the user goes', async () => {
      const { user, legacy, refresh } = await connectedUser();
      const { models } = deps();
      const row = await models.User.findByPk(user.id);
      const personal = row?.organizationId as string;
      // An organization the user shares with someone else stays, without them.
      const friend = await env.createUser(`friend${counter}`);
      const shared = await models.Organization.create({ name: 'Shared', slug: `shared-${counter}-${Date.now()}` });
      await models.Membership.bulkCreate([{ userId: user.id, organizationId: shared.id, role: 'owner' }, { userId: friend.id, organizationId: shared.id, role: 'member' }]);
      const { secret } = await deps().mfa.startTotp(user.id, user.email);
      await deps().mfa.confirmTotp(user.id, totpCode(secret), { door: 'test' });
      expect(await me(legacy)).to.equal(200);

      expect(await rejected(deps().accountDeletion.deleteSelf(user.id, { password: 'wrong password' }, ctx()))).to.be.instanceOf(IncorrectPasswordError);
      expect(await rejected(deps().accountDeletion.deleteSelf(user.id, { password: user.password }, ctx()))).to.be.instanceOf(SecondFactorRequiredError);
      const wrongCode = await rejected(deps().accountDeletion.deleteSelf(user.id, { password: user.password, code: '000000' }, ctx()));
      expect(wrongCode).to.be.instanceOf(InvalidMfaCodeError);
      expect(wrongCode).to.have.property('status', 400);
      expect(await models.User.findByPk(user.id), 'still there').to.not.equal(null);

      await deps().accountDeletion.deleteSelf(user.id, { password: user.password, code: totpCode(secret, Date.now() + 30_000) }, ctx());
      expect(await models.User.findByPk(user.id)).to.equal(null);
      expect(await me(legacy), 'legacy access token').to.equal(401);
      expect(await fails(oidc.refreshTokenGrant(notes, refresh)), 'OIDC refresh token').to.equal(true);
      expect(await deps().sessions.list(user.id, { includeExpired: true })).to.deep.equal([]);
      expect(await deps().userGrants.list(user.id)).to.deep.equal([]);
      expect(await models.Membership.count({ where: { userId: user.id } })).to.equal(0);
      expect(await models.TotpFactor.count({ where: { userId: user.id } })).to.equal(0);
      expect(await models.RecoveryCode.count({ where: { userId: user.id } })).to.equal(0);
      expect(await models.Organization.findByPk(personal), 'personal organization').to.equal(null);
      expect(await models.Organization.findByPk(shared.id), 'shared organization').to.not.equal(null);
      expect(await models.Membership.count({ where: { organizationId: shared.id } })).to.equal(1);

      await deps().audit.flush();
      const events = await models.AuditEvent.findAll({ where: { userId: user.id, type: 'account_deleted' }, order: [['createdAt', 'ASC']] });
      expect(events.map((event) => [event.outcome, event.detail?.reason ?? null])).to.deep.equal([
        ['failure', 'bad_password'],
        ['failure', 'second_factor_missing'],
        ['failure', 'bad_code'],
        ['success', null],
      ]);
    });

    it('without a second factor the password is enough', async () => {
      const { user, legacy } = await connectedUser();
      await deps().accountDeletion.deleteSelf(user.id, { password: user.password }, ctx());
      expect(await deps().models.User.findByPk(user.id)).to.equal(null);
      expect(await me(legacy)).to.equal(401);
    });

    it('counts wrong passwords toward the account\'s login limits: the 6th attempt from one address is a 429', async () => {
      counter += 1;
      const user = await env.createUser(`guesser${counter}`);
      for (let i = 0; i < 5; i += 1) {
        expect(await rejected(deps().accountDeletion.deleteSelf(user.id, { password: `wrong ${i}` }, ctx('10.20.30.40')))).to.be.instanceOf(IncorrectPasswordError);
      }
      expect(await rejected(deps().accountDeletion.deleteSelf(user.id, { password: user.password }, ctx('10.20.30.40')))).to.be.instanceOf(RateLimitedError);
      expect(await deps().models.User.findByPk(user.id)).to.not.equal(null);
    });

    it('refuses the only active administrator (409); allowed once there is another', async () => {
      const role = deps().config.admin.role;
      counter += 1;
      const admin = await env.createUser(`soleadmin${counter}`, [role]);
      // Other holders of the role from earlier tests or the bootstrap would make this one not the last.
      const { models } = deps();
      const adminRole = await models.Role.findOne({ where: { name: role } });
      const others = (await models.UserRole.findAll({ where: { roleId: adminRole?.id } })).filter((link) => link.userId !== admin.id);
      await models.User.update({ status: 'inactive' }, { where: { id: others.map((link) => link.userId) } });
      const refused = await rejected(deps().accountDeletion.deleteSelf(admin.id, { password: admin.password }, ctx()));
      expect(refused).to.be.instanceOf(LastAdminError);
      expect(refused).to.have.property('status', 409);
      await env.createUser(`nextadmin${counter}`, [role]);
      await deps().accountDeletion.deleteSelf(admin.id, { password: admin.password }, ctx());
      expect(await models.User.findByPk(admin.id)).to.equal(null);
    });
  });
}
