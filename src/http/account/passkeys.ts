/**
 * Passkeys on the security page (CONTRACT §9, §10): add one (the WebAuthn ceremony runs in the browser
 * with @simplewebauthn/browser, public/passkeys.js; the server verifies it), rename one, remove one (not the
 * last factor a policy requires). Passkeys need JavaScript; everything else on the page does not.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { PasskeyService } from '../../services/mfa/passkeys.ts';
import { PasskeyRejectedError } from '../../services/mfa/passkeys.ts';
import { NotFoundError } from '../../errors.ts';
import { type AccountPages, seeOther } from './pages.ts';
import { field, formOf, requestContext, signedIn } from './forms.ts';
import type { RequestContext } from '../../services/request-context.ts';

const PASSKEY_ID = /^[A-Za-z0-9_-]{1,64}$/;
const NAME_MAX = 100;

export interface PasskeyPageOptions {
  pages: AccountPages;
  passkeys: Pick<PasskeyService, 'register'>;
  /** Renames one of the user's passkeys; false when it is not theirs. */
  rename: (userId: string, passkeyId: string, name: string, ctx: RequestContext) => Promise<boolean>;
  /** Removes one of the user's passkeys (refusing the last factor a policy requires); false when it is not theirs. */
  remove: (userId: string, passkeyId: string, ctx: RequestContext) => Promise<boolean>;
  isLastFactorRefusal: (err: unknown) => boolean;
  /** The security page again, with an alert. */
  securityPage: (ctx: Context, status: number, errors: string[]) => Promise<void>;
}

/** The JSON the passkey form posts (a WebAuthn response is a few kB); undefined when it is not JSON. */
function credentialOf(value: string): unknown {
  if (!value || value.length > 32_768) return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return undefined;
  }
}

export function passkeyPages(router: Router, options: PasskeyPageOptions): void {
  const { pages } = options;

  router.post('/account/security/passkeys', async (ctx) => {
    const { account } = signedIn(ctx);
    const form = formOf(ctx);
    try {
      await options.passkeys.register(account.id, field(form, 'challenge_id', 256), credentialOf(field(form, 'credential', 32_769)), field(form, 'name', NAME_MAX), requestContext(ctx));
    } catch (err) {
      if (!(err instanceof PasskeyRejectedError)) throw err;
      await options.securityPage(ctx, 400, [pages.t(ctx)('account:security.passkeyRejected')]);
      return;
    }
    seeOther(ctx, '/account/security', 'passkey-added');
  });

  router.post('/account/security/passkeys/:id/rename', async (ctx) => {
    const { account } = signedIn(ctx);
    const id = ctx.params.id ?? '';
    const name = field(formOf(ctx), 'name', 1024).trim();
    if (!name || name.length > NAME_MAX) {
      await options.securityPage(ctx, 422, [pages.t(ctx)('account:security.passkeyName', { max: NAME_MAX })]);
      return;
    }
    if (!PASSKEY_ID.test(id) || !(await options.rename(account.id, id, name, requestContext(ctx)))) throw new NotFoundError('Passkey not found');
    seeOther(ctx, '/account/security', 'passkey-renamed');
  });

  router.post('/account/security/passkeys/:id/remove', async (ctx) => {
    const { account } = signedIn(ctx);
    const id = ctx.params.id ?? '';
    let removed: boolean;
    try {
      removed = PASSKEY_ID.test(id) && (await options.remove(account.id, id, requestContext(ctx)));
    } catch (err) {
      if (!options.isLastFactorRefusal(err)) throw err;
      await options.securityPage(ctx, 409, [pages.t(ctx)('account:security.lastFactor')]);
      return;
    }
    if (!removed) throw new NotFoundError('Passkey not found');
    seeOther(ctx, '/account/security', 'passkey-removed');
  });
}
