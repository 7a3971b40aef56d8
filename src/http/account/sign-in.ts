/**
 * The account pages' sign-in: the shared first-party sign-in (http/first-party/sign-in.ts) for the
 * `account` client. Every active user may enter; the session remembers the shared session (kind `oidc`)
 * of the SSO login it came from, so the sessions page can mark it as the current one.
 */
import type { Config } from '../../config.ts';
import type { Logger } from '../../logger.ts';
import type Provider from 'oidc-provider';
import type { AccountService } from '../../services/accounts/accounts.ts';
import type { SessionService } from '../../services/sessions.ts';
import type { FirstPartySessions } from '../../services/first-party-sessions.ts';
import { ACCOUNT_CLIENT } from '../../services/first-party-clients.ts';
import type { KeyService } from '../../services/keys.ts';
import { createFirstPartySignIn, type SignInFailure } from '../first-party/sign-in.ts';
import type { AccountPages } from './pages.ts';

export const ACCOUNT_COOKIE = 'idp_account';
export const ACCOUNT_LANDING = '/account/profile';

export interface AccountSignInOptions {
  config: Pick<Config, 'publicUrl' | 'issuer' | 'host' | 'port'>;
  provider: Provider;
  revokeGrant: (grantId: string) => Promise<void>;
  sessions: FirstPartySessions;
  sharedSessions: Pick<SessionService, 'list'>;
  accounts: Pick<AccountService, 'getById'>;
  keys: Pick<KeyService, 'load'>;
  pages: AccountPages;
  logger: Logger;
}

export function createAccountSignIn(options: AccountSignInOptions) {
  const { pages } = options;
  return createFirstPartySignIn({
    config: options.config,
    provider: options.provider,
    client: ACCOUNT_CLIENT,
    stateKey: 'account',
    cookieName: ACCOUNT_COOKIE,
    landing: ACCOUNT_LANDING,
    revokeGrant: options.revokeGrant,
    sessions: options.sessions,
    accounts: options.accounts,
    keys: options.keys,
    logger: options.logger,
    mayEnter: () => true,
    async sharedSessionOf(userId, ssoSessionUid) {
      const list = await options.sharedSessions.list(userId);
      return list.find((item) => item.kind === 'oidc' && item.is_active && item.oidc?.sessionUid === ssoSessionUid)?.session_id;
    },
    pages: {
      failed: (ctx, reason: SignInFailure, retryHref) => {
        const t = pages.t(ctx);
        return pages.message(ctx, 400, { heading: t(`account:signIn.${reason}`), message: t(`account:signIn.${reason}Text`), link: { href: retryHref, label: t('account:signIn.again') }, tone: 'error' });
      },
      // Nobody is refused here today (every active user may manage themself); kept for an inactive account.
      refused: (ctx, _account, signOutHref) => {
        const t = pages.t(ctx);
        return pages.message(ctx, 403, { heading: t('account:signIn.refused'), message: t('account:signIn.refusedText'), link: { href: signOutHref, label: t('account:signIn.signOutThere') }, tone: 'error' });
      },
      forbidden: (ctx) => {
        const t = pages.t(ctx);
        return pages.message(ctx, 403, { heading: t('account:signIn.refused'), message: t('account:signIn.refusedText'), tone: 'error' });
      },
      formExpired: (ctx) => {
        const t = pages.t(ctx);
        return pages.message(ctx, 403, { heading: t('account:errors.formExpired'), message: t('account:errors.formExpiredText'), link: { href: ACCOUNT_LANDING, label: t('account:errors.back') }, tone: 'error' });
      },
      signedOut: (ctx, signInHref) => {
        const t = pages.t(ctx);
        return pages.message(ctx, 200, { heading: t('account:signedOut.heading'), message: t('account:signedOut.text'), link: { href: signInHref, label: t('account:signIn.again') } });
      },
    },
  });
}

export type AccountSignIn = ReturnType<typeof createAccountSignIn>;
