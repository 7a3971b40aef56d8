/**
 * Delete account (CONTRACT §10): with the password, and a code of the second factor when the user has one
 * (a TOTP or recovery code; a passkey would need JavaScript, which this page does not). The deletion
 * service takes sessions, grants and memberships with it and audits it; the page then clears the account
 * cookie and says goodbye. The SSO session ended with the user's sessions.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { RateLimitedError } from '../../errors.ts';
import { IncorrectPasswordError } from '../../services/accounts/errors.ts';
import { InvalidMfaCodeError } from '../../services/mfa/errors.ts';
import type { MfaService } from '../../services/mfa/factors.ts';
import { LastAdminError, SecondFactorRequiredError, type AccountDeletion } from '../../services/accounts/account-deletion.ts';
import { PASSWORD_MAX_LENGTH } from '../../services/passwords.ts';
import type { AccountPages } from './pages.ts';
import { field, formOf, requestContext, signedIn } from './forms.ts';
import { waitText } from '../locale.ts';

export interface DeletePageOptions {
  pages: AccountPages;
  deletion: Pick<AccountDeletion, 'deleteSelf'>;
  mfa: Pick<MfaService, 'counts'>;
  /** Ends the account session in this browser (the sign-in owns its cookie). */
  forget: (ctx: Context) => Promise<void>;
}

export function deletePages(router: Router, options: DeletePageOptions): void {
  const { pages } = options;

  async function page(ctx: Context, status: number, errors: string[] = [], invalid?: 'password' | 'code'): Promise<void> {
    const counts = await options.mfa.counts(signedIn(ctx).account.id);
    await pages.render(ctx, status, 'delete', { page: 'delete', section: 'delete', errors, invalid, needsCode: counts.totp || counts.passkeys > 0 });
  }

  router.get('/account/delete', (ctx) => page(ctx, 200));

  router.post('/account/delete', async (ctx) => {
    const { account } = signedIn(ctx);
    const t = pages.t(ctx);
    const form = formOf(ctx);
    try {
      await options.deletion.deleteSelf(account.id, { password: field(form, 'password', PASSWORD_MAX_LENGTH + 1), code: field(form, 'code', 64) || undefined }, requestContext(ctx));
    } catch (err) {
      if (err instanceof IncorrectPasswordError) return page(ctx, 400, [t('account:delete.wrongPassword')], 'password');
      if (err instanceof SecondFactorRequiredError) return page(ctx, 400, [t('account:delete.codeMissing')], 'code');
      if (err instanceof InvalidMfaCodeError) return page(ctx, 400, [t('account:delete.wrongCode')], 'code');
      if (err instanceof LastAdminError) return page(ctx, 409, [t('account:delete.lastAdmin')]);
      if (err instanceof RateLimitedError) {
        for (const [name, value] of Object.entries(err.headers)) ctx.set(name, value);
        return page(ctx, 429, [t('account:errors.tooMany', { wait: waitText(t, err) })]);
      }
      throw err;
    }
    await options.forget(ctx);
    await pages.render(ctx, 200, 'message', { page: 'deleted', heading: t('account:deleted.heading'), message: t('account:deleted.text'), link: { href: '/', label: t('account:deleted.home') } });
  });
}
