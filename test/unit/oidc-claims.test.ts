import { expect } from 'chai';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { AccountView } from '../../src/services/accounts/view.ts';
import { claimsOf, createFindAccount, SCOPE_CLAIMS, SCOPES } from '../../src/oidc/find-account.ts';

const account: AccountView = {
  id: '7d1c4c1e-5d0e-4c2b-9a57-6f1f2f7c9a10',
  number: 7,
  username: 'Alice',
  email: 'alice@example.com',
  full_name: 'Alice Example',
  phone: '+15550100',
  status: 'active',
  email_verified: true,
  onboarding_completed: false,
  onboarding_step: null,
  onboarding_data: null,
  organization_id: 'f2b0c1de-0000-4000-8000-000000000001',
  created_at: new Date('2024-01-01T00:00:00Z'),
  updated_at: new Date('2024-02-03T04:05:06Z'),
  roles: ['admin', 'editor'],
  role_details: [],
};

describe('OIDC claims (CONTRACT §4)', () => {
  it('maps scopes to the contract claims', () => {
    expect(SCOPE_CLAIMS).to.deep.equal({
      openid: ['sub'],
      profile: ['name', 'preferred_username', 'updated_at'],
      email: ['email', 'email_verified'],
      phone: ['phone_number'],
      roles: ['roles'],
      organization: ['org_id'],
    });
    expect(SCOPES).to.include.members(['openid', 'offline_access', 'profile', 'email', 'phone', 'roles', 'organization']);
  });

  it('gives each claim its value: sub is the user id, updated_at in epoch seconds', () => {
    expect(claimsOf(account)).to.deep.equal({
      sub: account.id,
      name: 'Alice Example',
      preferred_username: 'Alice',
      updated_at: Math.floor(Date.parse('2024-02-03T04:05:06Z') / 1000),
      email: 'alice@example.com',
      email_verified: true,
      phone_number: '+15550100',
      roles: ['admin', 'editor'],
      org_id: account.organization_id,
    });
  });

  it('leaves out absent values; without a username the verified e-mail is the preferred username', () => {
    const claims = claimsOf({ ...account, username: null, full_name: null, phone: null, organization_id: null, roles: [] });
    expect(claims).to.not.have.any.keys('name', 'phone_number', 'org_id');
    expect(claims).to.include({ preferred_username: 'alice@example.com' });
    expect(claims.roles).to.deep.equal([]);
  });

  it('never makes an unverified e-mail the preferred username', () => {
    const claims = claimsOf({ ...account, username: null, email_verified: false });
    expect(claims).to.not.have.property('preferred_username');
    expect(claims).to.include({ email: 'alice@example.com', email_verified: false });
    expect(claimsOf({ ...account, email_verified: false })).to.include({ preferred_username: 'Alice' });
  });

  it('finds active accounts only', async () => {
    const ctx = {} as KoaContextWithOIDC;
    const findAccount = createFindAccount({ getById: async (id) => (id === account.id ? account : id === 'gone' ? { ...account, id, status: 'suspended' } : undefined) });
    const found = await findAccount(ctx, account.id);
    expect(found?.accountId).to.equal(account.id);
    expect(await found?.claims('userinfo', 'openid email', {}, [])).to.include({ email: 'alice@example.com' });
    expect(await findAccount(ctx, 'gone')).to.equal(undefined);
    expect(await findAccount(ctx, 'nobody')).to.equal(undefined);
  });
});
