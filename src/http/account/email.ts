/**
 * E-mail change (CONTRACT §10): the user asks for a new address; a link goes to it, and the address
 * changes only when the link is followed and the change confirmed with a POST (a GET shows what will
 * happen and changes nothing: mail scanners open links). The old address is told by the service. The link
 * works for the signed-in owner only: anyone else, or a used or stale link, sees "not valid".
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { RateLimitedError } from '../../errors.ts';
import {
  EmailTakenError,
  EmailUnchangedError,
  InvalidEmailChangeTokenError,
  InvalidEmailError,
  type EmailChangeService,
} from '../../services/accounts/email-change.ts';
import { type AccountPages, seeOther } from './pages.ts';
import { field, formOf, requestContext, signedIn } from './forms.ts';
import { waitText } from '../locale.ts';

export interface EmailPageOptions {
  pages: AccountPages;
  emailChange: Pick<EmailChangeService, 'request' | 'pending' | 'confirm'>;
  publicUrl: string;
}

const TOKEN_MAX = 512;

export function emailPages(router: Router, options: EmailPageOptions): void {
  const { pages, emailChange } = options;
  const links = { confirmEmailChange: (token: string) => `${options.publicUrl}/account/email/confirm?token=${encodeURIComponent(token)}` };

  async function page(ctx: Context, status: number, value = '', errors: string[] = []): Promise<void> {
    await pages.render(ctx, status, 'email', { page: 'email', section: 'email', value, errors });
  }

  /** The confirmation page, or "not valid" for a link that is not the signed-in user's live one. */
  async function confirmPage(ctx: Context, token: string): Promise<void> {
    const { account } = signedIn(ctx);
    const pending = token ? await emailChange.pending(token) : undefined;
    if (!pending || pending.userId !== account.id) {
      const t = pages.t(ctx);
      await pages.message(ctx, 400, { heading: t('account:emailConfirm.heading'), message: t('account:emailConfirm.invalid'), link: { href: '/account/email', label: t('account:nav.email') }, tone: 'error' });
      return;
    }
    await pages.render(ctx, 200, 'email-confirm', { page: 'emailConfirm', section: 'email', token, email: pending.email });
  }

  router.get('/account/email', (ctx) => page(ctx, 200));

  router.post('/account/email', async (ctx) => {
    const { account } = signedIn(ctx);
    const t = pages.t(ctx);
    const value = field(formOf(ctx), 'new_email', 1024).trim();
    try {
      await emailChange.request(account.id, value, requestContext(ctx), links);
    } catch (err) {
      if (err instanceof InvalidEmailError) return page(ctx, 422, value, [t('account:email.invalid')]);
      if (err instanceof EmailUnchangedError) return page(ctx, 400, value, [t('account:email.same')]);
      if (err instanceof EmailTakenError) return page(ctx, 409, value, [t('account:email.taken')]);
      if (err instanceof RateLimitedError) {
        for (const [name, header] of Object.entries(err.headers)) ctx.set(name, header);
        return page(ctx, 429, value, [t('account:errors.tooMany', { wait: waitText(t, err) })]);
      }
      throw err;
    }
    seeOther(ctx, '/account/email', 'email-sent');
  });

  router.get('/account/email/confirm', (ctx) => confirmPage(ctx, typeof ctx.query.token === 'string' ? ctx.query.token.slice(0, TOKEN_MAX) : ''));

  router.post('/account/email/confirm', async (ctx) => {
    const { account } = signedIn(ctx);
    const token = field(formOf(ctx), 'token', TOKEN_MAX);
    const pending = token ? await emailChange.pending(token) : undefined;
    // Only the owner's own link is used; anyone else's stays unused.
    if (!pending || pending.userId !== account.id) return confirmPage(ctx, '');
    try {
      await emailChange.confirm(token, requestContext(ctx));
    } catch (err) {
      if (err instanceof InvalidEmailChangeTokenError) return confirmPage(ctx, '');
      if (err instanceof EmailTakenError) return page(ctx, 409, '', [pages.t(ctx)('account:email.taken')]);
      throw err;
    }
    seeOther(ctx, '/account/email', 'email-changed');
  });
}
