/**
 * Passkeys on the security page (CONTRACT §9, §10): add one (the WebAuthn ceremony runs in the browser
 * with @simplewebauthn/browser, public/passkeys.js; the server verifies it), rename one, remove one (not the
 * last factor a policy requires). Passkeys need JavaScript; everything else on the page does not.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { PasskeyService } from '../../services/mfa/passkeys.ts';
import { PasskeyRejectedError } from '../../services/mfa/passkeys.ts';
import type { MfaService } from '../../services/mfa/factors.ts';
import { InvalidPasskeyNameError, LastFactorError } from '../../services/mfa/errors.ts';
import { type AccountPages, seeOther } from './pages.ts';
import { field, formOf, requestContext, signedIn } from './forms.ts';

/** The factor service's limit on a passkey's name. */
export const PASSKEY_NAME_MAX = 64;

export interface PasskeyPageOptions {
  pages: AccountPages;
  passkeys: Pick<PasskeyService, 'register'>;
  /** Rename and remove one of the user's own passkeys (another's id: 404; the last factor a policy requires: 409). */
  mfa: Pick<MfaService, 'renamePasskey' | 'removePasskey'>;
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
      await options.passkeys.register(account.id, field(form, 'challenge_id', 256), credentialOf(field(form, 'credential', 32_769)), field(form, 'name', PASSKEY_NAME_MAX), requestContext(ctx));
    } catch (err) {
      if (!(err instanceof PasskeyRejectedError)) throw err;
      await options.securityPage(ctx, 400, [pages.t(ctx)('account:security.passkeyRejected')]);
      return;
    }
    seeOther(ctx, '/account/security', 'passkey-added');
  });

  router.post('/account/security/passkeys/:id/rename', async (ctx) => {
    const { account } = signedIn(ctx);
    try {
      await options.mfa.renamePasskey(account.id, ctx.params.id ?? '', field(formOf(ctx), 'name', 1024), requestContext(ctx));
    } catch (err) {
      if (!(err instanceof InvalidPasskeyNameError)) throw err;
      await options.securityPage(ctx, 422, [pages.t(ctx)('account:security.passkeyNameInvalid', { max: PASSKEY_NAME_MAX })]);
      return;
    }
    seeOther(ctx, '/account/security', 'passkey-renamed');
  });

  router.post('/account/security/passkeys/:id/remove', async (ctx) => {
    const { account } = signedIn(ctx);
    try {
      await options.mfa.removePasskey(account.id, ctx.params.id ?? '', requestContext(ctx));
    } catch (err) {
      if (!(err instanceof LastFactorError)) throw err;
      await options.securityPage(ctx, 409, [pages.t(ctx)('account:security.lastFactor')]);
      return;
    }
    seeOther(ctx, '/account/security', 'passkey-removed');
  });
}
