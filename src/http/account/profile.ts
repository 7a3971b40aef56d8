/** Profile (CONTRACT §10): full name, phone and username; problems shown beside the fields. */
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { AccountService } from '../../services/accounts/accounts.ts';
import { AccountExistsError } from '../../services/accounts/errors.ts';
import { cleanUsername, usernameProblem } from '../../services/identifiers.ts';
import { type AccountPages, seeOther } from './pages.ts';
import { field, formOf, requestContext, signedIn } from './forms.ts';

const LIMITS = { full_name: 255, phone: 64 };

interface ProfileForm {
  full_name: string;
  phone: string;
  username: string;
}

export function profilePages(router: Router, options: { pages: AccountPages; accounts: Pick<AccountService, 'updateProfile'> }): void {
  const { pages } = options;

  async function page(ctx: Context, status: number, values: ProfileForm, fieldErrors: Partial<Record<keyof ProfileForm, string>> = {}): Promise<void> {
    const errors = Object.values(fieldErrors);
    await pages.render(ctx, status, 'profile', { page: 'profile', section: 'profile', values, fieldErrors, errors });
  }

  router.get('/account/profile', async (ctx) => {
    const { account } = signedIn(ctx);
    await page(ctx, 200, { full_name: account.full_name ?? '', phone: account.phone ?? '', username: account.username ?? '' });
  });

  router.post('/account/profile', async (ctx) => {
    const { account } = signedIn(ctx);
    const t = pages.t(ctx);
    const form = formOf(ctx);
    const values: ProfileForm = { full_name: field(form, 'full_name', 2048).trim(), phone: field(form, 'phone', 2048).trim(), username: field(form, 'username', 2048) };
    const fieldErrors: Partial<Record<keyof ProfileForm, string>> = {};
    if (values.full_name.length > LIMITS.full_name) fieldErrors.full_name = t('account:profile.tooLong', { field: t('account:profile.fullName'), max: LIMITS.full_name });
    if (values.phone.length > LIMITS.phone) fieldErrors.phone = t('account:profile.tooLong', { field: t('account:profile.phone'), max: LIMITS.phone });
    else if (values.phone && !/^[0-9+()./\s-]+$/.test(values.phone)) fieldErrors.phone = t('account:profile.phoneInvalid');
    // A user who never had a username may leave it empty; one who has it cannot remove it (it may be their login).
    const keepsNone = !values.username.trim() && !account.username;
    if (!keepsNone && usernameProblem(values.username) !== undefined) fieldErrors.username = t('account:profile.usernameInvalid');
    if (Object.keys(fieldErrors).length) {
      await page(ctx, 422, values, fieldErrors);
      return;
    }
    try {
      await options.accounts.updateProfile(
        account.id,
        { fullName: values.full_name || null, phone: values.phone || null, ...(keepsNone ? {} : { username: cleanUsername(values.username) }) },
        requestContext(ctx),
      );
    } catch (err) {
      if (!(err instanceof AccountExistsError)) throw err;
      await page(ctx, 409, values, { username: t('account:profile.usernameTaken') });
      return;
    }
    seeOther(ctx, '/account/profile', 'profile-saved');
  });
}
