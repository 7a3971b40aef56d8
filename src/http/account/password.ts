/**
 * Password (CONTRACT §10): the current one and a new one; every other session of the user ends (the one
 * this page was signed in through is kept). A wrong current password counts toward the login limits (the
 * account service guards it), so a stolen account session cannot guess without limit.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { AccountService } from '../../services/accounts/accounts.ts';
import { IncorrectPasswordError } from '../../services/accounts/errors.ts';
import { RateLimitedError } from '../../errors.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../services/passwords.ts';
import { type AccountPages, seeOther } from './pages.ts';
import { field, formOf, requestContext, signedIn } from './forms.ts';
import { waitText } from '../locale.ts';

export function passwordPages(router: Router, options: { pages: AccountPages; accounts: Pick<AccountService, 'changePassword'> }): void {
  const { pages } = options;

  async function page(ctx: Context, status: number, fieldErrors: { current_password?: string; new_password?: string } = {}): Promise<void> {
    await pages.render(ctx, status, 'password', { page: 'password', section: 'password', fieldErrors, errors: Object.values(fieldErrors), minLength: PASSWORD_MIN_LENGTH });
  }

  router.get('/account/password', (ctx) => page(ctx, 200));

  router.post('/account/password', async (ctx) => {
    const { account, session } = signedIn(ctx);
    const t = pages.t(ctx);
    const form = formOf(ctx);
    const currentPassword = field(form, 'current_password', PASSWORD_MAX_LENGTH + 1);
    const newPassword = field(form, 'new_password', PASSWORD_MAX_LENGTH + 1);
    if (!currentPassword) return page(ctx, 422, { current_password: t('account:password.currentMissing') });
    if (newPassword.length < PASSWORD_MIN_LENGTH || newPassword.length > PASSWORD_MAX_LENGTH) {
      return page(ctx, 422, { new_password: t('account:password.length', { min: PASSWORD_MIN_LENGTH, max: PASSWORD_MAX_LENGTH }) });
    }
    try {
      await options.accounts.changePassword(account.id, { currentPassword, newPassword, keepSessionId: session.shared_session_id }, requestContext(ctx));
    } catch (err) {
      if (err instanceof IncorrectPasswordError) return page(ctx, 400, { current_password: t('account:password.wrong') });
      if (err instanceof RateLimitedError) {
        for (const [name, value] of Object.entries(err.headers)) ctx.set(name, value);
        return page(ctx, 429, { current_password: t('account:errors.tooMany', { wait: waitText(t, err) }) });
      }
      throw err;
    }
    seeOther(ctx, '/account/password', 'password-changed');
  });
}
