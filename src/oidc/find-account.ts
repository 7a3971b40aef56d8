/**
 * The provider's view of a user: `findAccount` over the account service, releasing the CONTRACT §4
 * claims. oidc-provider filters them by the granted scopes and the `claims` parameter; here we only
 * say what each claim's value is. Inactive or deleted users are not found, so their SSO sessions ask
 * for a new login and their refresh tokens stop working.
 */
import type { Account, AccountClaims, FindAccount } from 'oidc-provider';
import type { AccountView } from '../services/accounts/view.ts';

export interface AccountLookup {
  getById(id: string): Promise<AccountView | undefined>;
}

/** Which claims each scope releases (oidc-provider's `claims` option). */
export const SCOPE_CLAIMS = {
  openid: ['sub'],
  profile: ['name', 'preferred_username', 'updated_at'],
  email: ['email', 'email_verified'],
  phone: ['phone_number'],
  roles: ['roles'],
  organization: ['org_id'],
} as const;

export const SCOPES = ['openid', 'offline_access', ...Object.keys(SCOPE_CLAIMS).filter((scope) => scope !== 'openid')];

function epochSeconds(value: Date | string): number {
  return Math.floor(new Date(value).getTime() / 1000);
}

/** Every claim the user has a value for; absent values are left out rather than sent as null. */
export function claimsOf(account: AccountView): AccountClaims {
  const claims: AccountClaims = {
    sub: account.id,
    updated_at: epochSeconds(account.updated_at),
    email: account.email,
    email_verified: account.email_verified,
    roles: [...account.roles],
  };
  // Without a username the e-mail is what the user signs in with, so it is the handle an app should show; but
  // only once verified: an app may key accounts on preferred_username, and anyone can sign up with any address.
  const handle = account.username ?? (account.email_verified ? account.email : undefined);
  if (handle) claims.preferred_username = handle;
  if (account.full_name) claims.name = account.full_name;
  if (account.phone) claims.phone_number = account.phone;
  if (account.organization_id) claims.org_id = account.organization_id;
  return claims;
}

export function createFindAccount(accounts: AccountLookup): FindAccount {
  return async (_ctx, sub): Promise<Account | undefined> => {
    const account = await accounts.getById(sub);
    if (!account || account.status !== 'active') return undefined;
    return {
      accountId: account.id,
      async claims() {
        return claimsOf(account);
      },
    };
  };
}
