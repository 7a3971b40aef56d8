/**
 * Sign-up on the login page (CONTRACT §1 `REGISTRATION`): a plain form under the interaction, the same
 * account service (and limits) as the legacy doors' `/register`, then the same path as a right password:
 * the e-mail check when verification is required, the second factor when policy asks for one, else the
 * sign-in completes. Absent when `REGISTRATION=closed`.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Interaction } from 'oidc-provider';
import { RateLimitedError, ServerBusyError } from '../../errors.ts';
import { AccountExistsError } from '../../services/accounts/errors.ts';
import type { AccountView } from '../../services/accounts/view.ts';
import type { RegisterInput } from '../../services/accounts/accounts.ts';
import { canonicalEmail, usernameProblem } from '../../services/identifiers.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../services/passwords.ts';
import type { RequestContext } from '../../services/request-context.ts';
import { abandonedSignal } from '../abandoned.ts';
import { waitText } from '../locale.ts';
import type { InteractionPageKit } from './second-factor.ts';

export interface SignUpServices {
  /** The self-service registration (open-route limits, REGISTRATION policy, verification mail). */
  register(input: RegisterInput, ctx: RequestContext): Promise<AccountView>;
  /** What follows a proven password: the second-factor step or enrolment, or the end of the sign-in. */
  afterPassword(ctx: Context, interaction: Interaction, account: AccountView, identifier: string): Promise<void>;
}

type Field = 'email' | 'username' | 'full_name' | 'password';

const text = (value: unknown, max: number): string => (typeof value === 'string' ? value.slice(0, max) : '');

export function signUpPages(router: Router, kit: InteractionPageKit, services: SignUpServices): { url(uid: string): string } {
  const url = (uid: string): string => `/interaction/${uid}/sign-up`;

  async function page(ctx: Context, interaction: Interaction, status: number, values: Partial<Record<Field, string>>, errors: Partial<Record<Field | 'form', string>> = {}) {
    const t = kit.translate(ctx);
    await kit.render(ctx, status, 'sign-up', {
      title: t('signup:title'),
      action: url(interaction.uid),
      signInUrl: `/interaction/${interaction.uid}`,
      csrf: kit.csrfToken(interaction.uid),
      values,
      errors,
      minLength: PASSWORD_MIN_LENGTH,
    });
  }

  router.get('/:uid/sign-up', async (ctx) => {
    const interaction = await kit.interactionFor(ctx, 'login');
    await page(ctx, interaction, 200, {});
  });

  router.post('/:uid/sign-up', async (ctx) => {
    const interaction = await kit.interactionFor(ctx, 'login');
    const form = kit.requireCsrf(ctx, interaction);
    const t = kit.translate(ctx);
    const values = {
      email: text(form.email, 320).trim(),
      username: text(form.username, 600).trim(),
      full_name: text(form.full_name, 200).trim(),
    };
    const password = text(form.password, PASSWORD_MAX_LENGTH + 1);
    const errors: Partial<Record<Field, string>> = {};
    const email = canonicalEmail(values.email);
    if (!email) errors.email = t('signup:errors.email');
    if (values.username && usernameProblem(values.username)) errors.username = t('signup:errors.username');
    if (password.length < PASSWORD_MIN_LENGTH || password.length > PASSWORD_MAX_LENGTH) {
      errors.password = t('signup:errors.password', { min: PASSWORD_MIN_LENGTH, max: PASSWORD_MAX_LENGTH });
    }
    if (!email || Object.keys(errors).length) {
      await page(ctx, interaction, 422, values, errors);
      return;
    }
    let account: AccountView;
    try {
      account = await services.register(
        { email, password, username: values.username || null, fullName: values.full_name || null },
        { ...kit.requestContext(ctx, interaction), abandoned: abandonedSignal(ctx) },
      );
    } catch (err) {
      if (err instanceof AccountExistsError) {
        await page(ctx, interaction, 409, values, err.field === 'email' ? { email: t('signup:errors.emailTaken') } : { username: t('signup:errors.usernameTaken') });
        return;
      }
      if (err instanceof RateLimitedError || err instanceof ServerBusyError) {
        for (const [name, value] of Object.entries(err.headers)) ctx.set(name, value);
        const message = err instanceof RateLimitedError ? t('signup:errors.rateLimited', { wait: waitText(t, err) }) : t('login:errors.busy');
        await page(ctx, interaction, err.status, values, { form: message });
        return;
      }
      throw err;
    }
    if (await kit.unverified(ctx, interaction, account)) return;
    await services.afterPassword(ctx, interaction, account, account.email);
  });

  return { url };
}
