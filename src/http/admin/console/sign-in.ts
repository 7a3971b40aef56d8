/**
 * The console's sign-in: the shared first-party sign-in (http/first-party/sign-in.ts) for the
 * `admin-console` client, for active admins only, with the console's own pages and an audit record.
 */
import type { Context } from 'koa';
import type { Config } from '../../../config.ts';
import type { Logger } from '../../../logger.ts';
import type Provider from 'oidc-provider';
import type { AccountService } from '../../../services/accounts/accounts.ts';
import type { FirstPartySessions } from '../../../services/first-party-sessions.ts';
import { CONSOLE_CLIENT, CONSOLE_CLIENT_ID } from '../../../services/first-party-clients.ts';
import type { AdminAuditService } from '../../../services/admin/audit.ts';
import type { KeyService } from '../../../services/keys.ts';
import { createFirstPartySignIn, type SignInFailure } from '../../first-party/sign-in.ts';
import { adminContext } from '../auth.ts';
import type { ConsolePages } from './pages.ts';

export const SESSION_COOKIE = 'idp_admin';

export interface SignInOptions {
  config: Pick<Config, 'publicUrl' | 'issuer' | 'host' | 'port' | 'admin'>;
  provider: Provider;
  /** Revokes an OIDC grant with its tokens (the OIDC storage's). */
  revokeGrant: (grantId: string) => Promise<void>;
  consoleSessions: FirstPartySessions;
  accounts: Pick<AccountService, 'getById'>;
  keys: Pick<KeyService, 'load'>;
  adminAudit: Pick<AdminAuditService, 'record'>;
  pages: ConsolePages;
  logger: Logger;
}

const FAILURES: Record<SignInFailure, { title: string; heading: string; message: string }> = {
  expired: { title: 'Sign-in expired', heading: 'This sign-in has expired', message: 'Start again from the sign-in link.' },
  cancelled: { title: 'Not signed in', heading: 'You are not signed in', message: 'The sign-in was cancelled or refused.' },
  invalid: { title: 'Not signed in', heading: 'You are not signed in', message: 'The sign-in answer was not valid.' },
  unverified: { title: 'Not signed in', heading: 'You are not signed in', message: 'The sign-in could not be verified.' },
  incomplete: { title: 'Not signed in', heading: 'You are not signed in', message: 'The sign-in could not be completed.' },
};

export function createSignIn(options: SignInOptions) {
  const { config, pages } = options;
  const role = config.admin.role;
  const signIn = createFirstPartySignIn({
    config,
    provider: options.provider,
    client: CONSOLE_CLIENT,
    stateKey: 'console',
    cookieName: SESSION_COOKIE,
    landing: '/admin/users',
    revokeGrant: options.revokeGrant,
    sessions: options.consoleSessions,
    accounts: options.accounts,
    keys: options.keys,
    logger: options.logger,
    mayEnter: (account) => account.roles.includes(role),
    onSignedIn: (ctx: Context, userId: string) =>
      options.adminAudit.record('console_sign_in', adminContext(ctx, userId), { userId, clientId: CONSOLE_CLIENT_ID }),
    pages: {
      failed: (ctx, reason, retryHref) => pages.message(ctx, 400, { ...FAILURES[reason], link: { href: retryHref, label: 'Sign in again' }, tone: 'error' }),
      refused: (ctx, account, signOutHref) =>
        pages.message(ctx, 403, {
          title: 'Not an admin',
          heading: 'Admins only',
          message: `${account?.email ?? 'This account'} does not have the ${role} role. Sign in with an admin account.`,
          link: { href: signOutHref, label: 'Sign out of this account' },
          tone: 'error',
        }),
      forbidden: (ctx, state) =>
        pages.message(ctx, 403, { title: 'Not an admin', heading: 'Admins only', message: `${state.account.email} does not have the ${role} role.`, signOut: state.session.csrf }),
      formExpired: (ctx) => pages.message(ctx, 403, { title: 'Form expired', heading: 'This form has expired', message: 'Reload the page and try again.', tone: 'error' }),
      signedOut: (ctx, signInHref) =>
        pages.message(ctx, 200, { title: 'Signed out', heading: 'You are signed out', message: 'You have left the admin console.', link: { href: signInHref, label: 'Sign in again' } }),
    },
  });
  return { routes: signIn.routes, requireConsoleAdmin: signIn.requireSignedIn, checkCsrf: signIn.checkCsrf };
}
