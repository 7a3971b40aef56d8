/**
 * The account pages at /account (CONTRACT §10): server-rendered pages where a signed-in user manages
 * themself, signed in through this provider's own OIDC login (the `account` first-party client). Plain HTML
 * forms (passkeys excepted), each carrying the session's CSRF token; every change answers 303 back to a page
 * with a fixed notice; errors are pages in the reader's language, never JSON or a stack.
 */
import type { Middleware } from 'koa';
import Router from '@koa/router';
import type { Dependencies } from '../../dependencies.ts';
import { ACCOUNT_CLIENT, ensureFirstPartyClient } from '../../services/first-party-clients.ts';
import { createAccountPages } from './pages.ts';
import { ACCOUNT_LANDING, createAccountSignIn } from './sign-in.ts';
import { servesPages } from '../middleware/error-pages.ts';
import { profilePages } from './profile.ts';
import { passwordPages } from './password.ts';
import { sessionPages } from './sessions.ts';
import { securityPages } from './security.ts';
import { appPages } from './apps.ts';
import { passkeyPages } from './passkeys.ts';
import { emailPages } from './email.ts';
import { deletePages } from './delete.ts';


type AccountDependencies = Pick<
  Dependencies,
  'config' | 'logger' | 'keys' | 'accounts' | 'sessions' | 'audit' | 'oidc' | 'errorTranslators' | 'accountPageSessions' | 'mfa' | 'passkeys' | 'i18n' | 'connectedApps' | 'emailChange' | 'accountDeletion'
>;

/** Start-up work of the account pages: their own OIDC client, made or brought up to date. */
export async function prepareAccountDoor(deps: Pick<Dependencies, 'models' | 'sequelize' | 'config'>): Promise<void> {
  await ensureFirstPartyClient(deps, ACCOUNT_CLIENT, deps.config.publicUrl);
}

export function createAccountRouters(deps: AccountDependencies): Router[] {
  const pages = createAccountPages({ i18n: deps.i18n });
  const signIn = createAccountSignIn({
    config: deps.config,
    provider: deps.oidc.provider,
    revokeGrant: (grantId) => deps.oidc.storage.revokeGrant(grantId),
    sessions: deps.accountPageSessions,
    sharedSessions: deps.sessions,
    accounts: deps.accounts,
    keys: deps.keys,
    pages,
    logger: deps.logger,
  });

  // The page's language, for the pages and for the mails a request causes (requestContext).
  const language: Middleware = async (ctx, next) => {
    ctx.state.lang = pages.langOf(ctx);
    await next();
  };
  // Errors of these routes (and of their bodies, before routing) are drawn by the one error handler as pages.
  const door = { back: { href: ACCOUNT_LANDING, label: 'account:errors.back' }, under: '/account' };
  const open = servesPages(new Router(), door);
  open.use(language);
  signIn.routes(open);

  // Everything else is for the signed-in user, and every POST carries the form token.
  const guarded = servesPages(new Router(), door);
  guarded.use(language, signIn.requireSignedIn, signIn.checkCsrf);
  guarded.get('/account', (ctx) => {
    ctx.status = 303;
    ctx.redirect(ACCOUNT_LANDING);
  });
  profilePages(guarded, { pages, accounts: deps.accounts });
  emailPages(guarded, { pages, emailChange: deps.emailChange, publicUrl: deps.config.publicUrl });
  passwordPages(guarded, { pages, accounts: deps.accounts });
  sessionPages(guarded, { pages, sessions: deps.sessions, audit: deps.audit });
  const { securityPage } = securityPages(guarded, { pages, mfa: deps.mfa, passkeys: deps.passkeys });
  passkeyPages(guarded, { pages, mfa: deps.mfa, passkeys: deps.passkeys, securityPage });
  appPages(guarded, { pages, apps: deps.connectedApps });
  deletePages(guarded, { pages, deletion: deps.accountDeletion, mfa: deps.mfa, forget: signIn.forget });
  return [open, guarded];
}
