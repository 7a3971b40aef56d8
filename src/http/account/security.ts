/**
 * Security (CONTRACT §9, §10): the authenticator app (TOTP: a QR code as inline SVG, confirmed by a first
 * code; removed with the password), recovery codes (regenerated with the password, shown once), and
 * passkeys (passkeys.ts). Codes and passwords typed here count toward the login limits (the services guard
 * them); every change is audited by the factor services.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { MfaService } from '../../services/mfa/factors.ts';
import { IncorrectMfaPasswordError, InvalidMfaCodeError, LastFactorError, NoSecondFactorError, TotpAlreadyEnabledError, TotpNotEnabledError, TotpNotStartedError } from '../../services/mfa/errors.ts';
import type { PasskeyService } from '../../services/mfa/passkeys.ts';
import { RateLimitedError } from '../../errors.ts';
import { PASSWORD_MAX_LENGTH } from '../../services/passwords.ts';
import { type AccountPages, seeOther } from './pages.ts';
import { field, formOf, requestContext, signedIn } from './forms.ts';
import { waitText } from '../locale.ts';

export interface SecurityPageOptions {
  pages: AccountPages;
  /** removeTotp refuses the last factor MFA_POLICY requires (LastFactorError). */
  mfa: Pick<MfaService, 'status' | 'totpEnrolment' | 'confirmTotp' | 'regenerateRecoveryCodes' | 'removeTotp'>;
  passkeys: Pick<PasskeyService, 'registrationOptions'>;
}

/** An error a form on the security page shows in its alert, or undefined when it is not one of those. */
function formError(ctx: Context, pages: AccountPages, err: unknown): string | undefined {
  const t = pages.t(ctx);
  if (err instanceof IncorrectMfaPasswordError) return t('account:security.wrongPassword');
  if (err instanceof InvalidMfaCodeError) return t('account:security.wrongCode');
  if (err instanceof NoSecondFactorError) return t('account:security.noFactor');
  if (err instanceof TotpNotEnabledError) return t('account:security.totpNotOn');
  if (err instanceof LastFactorError) return t('account:security.lastFactor');
  if (err instanceof RateLimitedError) {
    for (const [name, value] of Object.entries(err.headers)) ctx.set(name, value);
    return t('account:errors.tooMany', { wait: waitText(t, err) });
  }
  return undefined;
}

export function securityPages(router: Router, options: SecurityPageOptions): { securityPage: (ctx: Context, status: number, errors?: string[]) => Promise<void> } {
  const { pages, mfa } = options;

  async function securityPage(ctx: Context, status: number, errors: string[] = []): Promise<void> {
    const { account } = signedIn(ctx);
    const factors = await mfa.status(account.id);
    const registration = await options.passkeys.registrationOptions({ id: account.id, email: account.email, displayName: account.full_name });
    await pages.render(ctx, status, 'security', {
      page: 'security',
      section: 'security',
      factors,
      errors,
      passkey: { action: '/account/security/passkeys', ...registration },
    });
  }

  async function totpPage(ctx: Context, status: number, errors: string[] = []): Promise<void> {
    const { account } = signedIn(ctx);
    const { secret, otpauthUri } = await mfa.totpEnrolment(account.id, account.email);
    // qrcode is loaded at the first enrolment, not carried by every process from its start.
    const { default: QRCode } = await import('qrcode');
    const qrSvg = await QRCode.toString(otpauthUri, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' });
    await pages.render(ctx, status, 'totp', { page: 'totp', section: 'security', qrSvg, secret: secret.replace(/(.{4})/g, '$1 ').trim(), errors });
  }

  const codesPage = (ctx: Context, codes: string[]) => pages.render(ctx, 200, 'codes', { page: 'codes', section: 'security', codes });

  /** Runs a security form's action; its expected refusals come back as the page with an alert. */
  async function attempt<T>(ctx: Context, action: () => Promise<T>): Promise<{ done: true; value: T } | { done: false }> {
    try {
      return { done: true, value: await action() };
    } catch (err) {
      const message = formError(ctx, pages, err);
      if (message === undefined) throw err;
      await securityPage(ctx, err instanceof RateLimitedError ? 429 : err instanceof LastFactorError ? 409 : 400, [message]);
      return { done: false };
    }
  }

  router.get('/account/security', (ctx) => securityPage(ctx, 200));

  router.get('/account/security/totp', async (ctx) => {
    try {
      await totpPage(ctx, 200);
    } catch (err) {
      if (!(err instanceof TotpAlreadyEnabledError)) throw err;
      seeOther(ctx, '/account/security');
    }
  });

  router.post('/account/security/totp', async (ctx) => {
    const { account } = signedIn(ctx);
    const code = field(formOf(ctx), 'code', 64).trim();
    if (!/^\d{6}$/.test(code)) return totpPage(ctx, 422, [pages.t(ctx)('account:security.codeFormat')]);
    try {
      const codes = await mfa.confirmTotp(account.id, code, requestContext(ctx));
      await codesPage(ctx, codes);
    } catch (err) {
      if (err instanceof TotpAlreadyEnabledError || err instanceof TotpNotStartedError) return seeOther(ctx, '/account/security');
      if (!(err instanceof InvalidMfaCodeError)) throw err;
      await totpPage(ctx, 400, [pages.t(ctx)('account:security.wrongCode')]);
    }
  });

  router.post('/account/security/totp/remove', async (ctx) => {
    const { account } = signedIn(ctx);
    const password = field(formOf(ctx), 'password', PASSWORD_MAX_LENGTH + 1);
    if ((await attempt(ctx, () => mfa.removeTotp(account.id, password, requestContext(ctx)))).done) seeOther(ctx, '/account/security', 'totp-removed');
  });

  router.post('/account/security/recovery-codes', async (ctx) => {
    const { account } = signedIn(ctx);
    const password = field(formOf(ctx), 'password', PASSWORD_MAX_LENGTH + 1);
    const result = await attempt(ctx, () => mfa.regenerateRecoveryCodes(account.id, password, requestContext(ctx)));
    if (result.done) await codesPage(ctx, result.value);
  });
  return { securityPage };
}
