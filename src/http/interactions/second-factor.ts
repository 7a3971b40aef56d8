/**
 * The login page's second step (CONTRACT §4, §9): after the password, a page asks for a TOTP or recovery
 * code (a plain form, no JavaScript); a user MFA_POLICY names who has no factor enrols an authenticator
 * app first (QR code as inline SVG, the secret in text for apps that cannot scan), then sees the recovery
 * codes once. Step-up: a signed-in user asked for `acr_values=urn:idp:acr:mfa`, or whose `max_age` has
 * passed, presents a factor again. The finished login tells oidc-provider its `amr` and `acr`.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Interaction } from 'oidc-provider';
import { RateLimitedError } from '../../errors.ts';
import type { AccountView } from '../../services/accounts/view.ts';
import type { RequestContext } from '../../services/request-context.ts';
import type { MfaService } from '../../services/mfa/factors.ts';
import { PASSKEY_AMR, PASSWORD_AND_CODE_AMR, PASSWORD_AMR, acrOf, type Amr, type MfaLogin } from '../../services/mfa/mfa-login.ts';
import { PasskeyRejectedError, type PasskeyService } from '../../services/mfa/passkeys.ts';
import type { PendingLogin, PendingLoginService } from '../../services/mfa/pending-logins.ts';
import { InvalidMfaCodeError } from '../../services/mfa/errors.ts';
import type { Translate } from '../../services/i18n.ts';
import { waitText } from '../locale.ts';

export interface SecondFactorServices {
  mfa: Pick<MfaService, 'totpEnrolment' | 'confirmTotp' | 'recoveryCodesIfNone'>;
  passkeys: Pick<PasskeyService, 'registrationOptions' | 'register' | 'authenticationOptions' | 'authenticate'>;
  mfaLogin: Pick<MfaLogin, 'methods' | 'requiresFactor' | 'checkCode'>;
  pending: PendingLoginService;
  getAccount: (id: string) => Promise<AccountView | undefined>;
}

/** What the interaction router lends these pages. */
export interface InteractionPageKit {
  render(ctx: Context, status: number, name: string, locals: Record<string, unknown> & { title: string }): Promise<void>;
  interactionFor(ctx: Context, prompt?: string): Promise<Interaction>;
  requireCsrf(ctx: Context, interaction: Interaction): Record<string, unknown>;
  csrfToken(uid: string): string;
  finish(ctx: Context, result: { login: { accountId: string; amr: string[]; acr: string } }, merge: boolean): Promise<void>;
  /** The password page again, with a message (the sign-in starts over). */
  loginPage(ctx: Context, interaction: Interaction, status: number, login: string, error?: string): Promise<void>;
  requestContext(ctx: Context, interaction: Interaction): RequestContext;
  /** The translator of the request's language (the interaction's `ui_locales`, then Accept-Language). */
  translate(ctx: Context): Translate;
  /** Shows the verify-e-mail page and answers true when the account must verify its e-mail before signing in. */
  unverified(ctx: Context, interaction: Interaction, account: AccountView): Promise<boolean>;
}

/** Reasons oidc-provider gives for a login prompt that a factor (not the password again) answers. */
const STEP_UP_REASONS = new Set(['acr_mfa', 'max_age']);

const codeText = (value: unknown): string => (typeof value === 'string' ? value.slice(0, 64).trim() : '');

/** The JSON a passkey form posts (a WebAuthn response is a few kB); undefined when it is not JSON. */
function credentialOf(value: unknown): unknown {
  if (typeof value !== 'string' || !value || value.length > 32_768) return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return undefined;
  }
}

/** Password plus passkey: both kinds of proof (RFC 8176). */
const PASSWORD_AND_PASSKEY_AMR: Amr[] = ['pwd', 'hwk', 'user', 'mfa'];

export function secondFactorPages(router: Router, kit: InteractionPageKit, services: SecondFactorServices) {
  const { pending } = services;

  async function complete(ctx: Context, accountId: string, amr: readonly Amr[], uid: string): Promise<void> {
    await pending.finish(uid);
    await kit.finish(ctx, { login: { accountId, amr: [...amr], acr: acrOf(amr) } }, false);
  }

  function redirectTo(ctx: Context, path: string): void {
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 303;
    ctx.redirect(path);
  }

  async function passkeyForm(uid: string, action: string, label: string) {
    const { challengeId, options } = await services.passkeys.authenticationOptions();
    return { mode: 'verify', action: `/interaction/${uid}/${action}`, label, challengeId, options };
  }

  async function codePage(ctx: Context, interaction: Interaction, status: number, error?: string): Promise<void> {
    const login = await pending.get(interaction.uid);
    const methods = login ? await services.mfaLogin.methods(login.accountId) : [];
    const t = kit.translate(ctx);
    await kit.render(ctx, status, 'second-factor', {
      title: t('mfa:code.title'),
      action: `/interaction/${interaction.uid}/second-factor`,
      csrf: kit.csrfToken(interaction.uid),
      error,
      passkey: methods.includes('passkey') ? await passkeyForm(interaction.uid, 'second-factor/passkey', t('mfa:code.usePasskey')) : undefined,
    });
  }

  /** The codes page after a first factor is enrolled: the sign-in finishes with one more click. */
  async function codesPage(ctx: Context, interaction: Interaction, login: PendingLogin, amr: Amr[], codes: string[]): Promise<void> {
    await pending.start(interaction.uid, { ...login, stage: 'enrolled', amr });
    if (!codes.length) {
      await complete(ctx, login.accountId, amr, interaction.uid);
      return;
    }
    await kit.render(ctx, 200, 'second-factor-codes', {
      title: kit.translate(ctx)('mfa:codes.title'),
      action: `/interaction/${interaction.uid}/enrol/done`,
      csrf: kit.csrfToken(interaction.uid),
      codes,
    });
  }

  function passkeyFailure(ctx: Context, err: unknown): void {
    if (!(err instanceof PasskeyRejectedError)) throw err;
    ctx.status = 400;
  }

  async function enrolPage(ctx: Context, interaction: Interaction, login: PendingLogin, status: number, error?: string): Promise<void> {
    const account = await services.getAccount(login.accountId);
    if (!account) throw new InvalidMfaCodeError();
    const { secret, otpauthUri } = await services.mfa.totpEnrolment(account.id, account.email);
    // qrcode is loaded at the first enrolment, not carried by every process from its start.
    const { default: QRCode } = await import('qrcode');
    const qrSvg = await QRCode.toString(otpauthUri, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' });
    const registration = await services.passkeys.registrationOptions({ id: account.id, email: account.email, displayName: account.full_name });
    const t = kit.translate(ctx);
    await kit.render(ctx, status, 'second-factor-enrol', {
      title: t('mfa:enrol.title'),
      action: `/interaction/${interaction.uid}/enrol`,
      csrf: kit.csrfToken(interaction.uid),
      qrSvg,
      secret: secret.replace(/(.{4})/g, '$1 ').trim(),
      error,
      passkey: { mode: 'register', action: `/interaction/${interaction.uid}/enrol/passkey`, label: t('mfa:enrol.addPasskey'), ...registration },
    });
  }

  /** The pending sign-in of this interaction at the given stage, or the password page again. */
  async function pendingAt(ctx: Context, interaction: Interaction, stage: PendingLogin['stage']): Promise<PendingLogin | undefined> {
    const login = await pending.get(interaction.uid);
    if (login?.stage === stage) return login;
    await kit.loginPage(ctx, interaction, 400, '', kit.translate(ctx)('login:errors.expired'));
    return undefined;
  }

  router.get('/:uid/second-factor', async (ctx) => {
    const interaction = await kit.interactionFor(ctx, 'login');
    if (await pendingAt(ctx, interaction, 'code')) await codePage(ctx, interaction, 200);
  });

  router.post('/:uid/second-factor', async (ctx) => {
    const interaction = await kit.interactionFor(ctx, 'login');
    const form = kit.requireCsrf(ctx, interaction);
    const login = await pendingAt(ctx, interaction, 'code');
    if (!login) return;
    const code = codeText(form.code);
    if (!code) {
      await codePage(ctx, interaction, 400, kit.translate(ctx)('mfa:errors.missingCode'));
      return;
    }
    try {
      const proven = await services.mfaLogin.checkCode(login.accountId, login.identifier, code, kit.requestContext(ctx, interaction));
      await complete(ctx, login.accountId, proven, interaction.uid);
    } catch (err) {
      if (err instanceof RateLimitedError) {
        for (const [name, value] of Object.entries(err.headers)) ctx.set(name, value);
        const t = kit.translate(ctx);
        await codePage(ctx, interaction, 429, t('mfa:errors.rateLimited', { wait: waitText(t, err) }));
        return;
      }
      if (!(err instanceof InvalidMfaCodeError)) throw err;
      if (!(await pending.fail(interaction.uid, login))) {
        await kit.loginPage(ctx, interaction, 401, '', kit.translate(ctx)('login:errors.tooManyCodes'));
        return;
      }
      await codePage(ctx, interaction, 401, kit.translate(ctx)('mfa:errors.invalidCode'));
    }
  });

  router.get('/:uid/enrol', async (ctx) => {
    const interaction = await kit.interactionFor(ctx, 'login');
    const login = await pendingAt(ctx, interaction, 'enrol');
    if (login) await enrolPage(ctx, interaction, login, 200);
  });

  router.post('/:uid/enrol', async (ctx) => {
    const interaction = await kit.interactionFor(ctx, 'login');
    const form = kit.requireCsrf(ctx, interaction);
    const login = await pendingAt(ctx, interaction, 'enrol');
    if (!login) return;
    let codes: string[];
    try {
      codes = await services.mfa.confirmTotp(login.accountId, codeText(form.code), kit.requestContext(ctx, interaction));
    } catch (err) {
      if (!(err instanceof InvalidMfaCodeError)) throw err;
      await enrolPage(ctx, interaction, login, 400, kit.translate(ctx)('mfa:errors.invalidEnrolCode'));
      return;
    }
    await codesPage(ctx, interaction, login, PASSWORD_AND_CODE_AMR, codes);
  });

  router.post('/:uid/enrol/passkey', async (ctx) => {
    const interaction = await kit.interactionFor(ctx, 'login');
    const form = kit.requireCsrf(ctx, interaction);
    const login = await pendingAt(ctx, interaction, 'enrol');
    if (!login) return;
    try {
      const name = typeof form.name === 'string' ? form.name : '';
      await services.passkeys.register(login.accountId, form.challenge_id, credentialOf(form.credential), name, kit.requestContext(ctx, interaction));
    } catch (err) {
      passkeyFailure(ctx, err);
      await enrolPage(ctx, interaction, login, 400, kit.translate(ctx)('mfa:errors.passkeyNotAdded'));
      return;
    }
    await codesPage(ctx, interaction, login, PASSWORD_AND_PASSKEY_AMR, await services.mfa.recoveryCodesIfNone(login.accountId));
  });

  /** The passkey as the second factor after the password. */
  router.post('/:uid/second-factor/passkey', async (ctx) => {
    const interaction = await kit.interactionFor(ctx, 'login');
    const form = kit.requireCsrf(ctx, interaction);
    const login = await pendingAt(ctx, interaction, 'code');
    if (!login) return;
    let userId: string | undefined;
    try {
      ({ userId } = await services.passkeys.authenticate(form.challenge_id, credentialOf(form.credential), kit.requestContext(ctx, interaction)));
    } catch (err) {
      passkeyFailure(ctx, err);
    }
    if (userId !== login.accountId) {
      await codePage(ctx, interaction, 400, kit.translate(ctx)('mfa:errors.passkeyWrongAccount'));
      return;
    }
    await complete(ctx, login.accountId, PASSWORD_AND_PASSKEY_AMR, interaction.uid);
  });

  /** "Sign in with a passkey" (or the browser's autofill) on the login page: a complete login by itself. */
  router.post('/:uid/passkey', async (ctx) => {
    const interaction = await kit.interactionFor(ctx, 'login');
    const form = kit.requireCsrf(ctx, interaction);
    let account: AccountView | undefined;
    try {
      const { userId } = await services.passkeys.authenticate(form.challenge_id, credentialOf(form.credential), kit.requestContext(ctx, interaction));
      account = await services.getAccount(userId);
    } catch (err) {
      passkeyFailure(ctx, err);
    }
    if (!account) {
      await kit.loginPage(ctx, interaction, 400, '', kit.translate(ctx)('login:errors.passkeyFailed'));
      return;
    }
    if (account.status !== 'active') {
      await kit.loginPage(ctx, interaction, 403, '', kit.translate(ctx)('login:errors.inactive'));
      return;
    }
    if (await kit.unverified(ctx, interaction, account)) return;
    await complete(ctx, account.id, PASSKEY_AMR, interaction.uid);
  });

  router.post('/:uid/enrol/done', async (ctx) => {
    const interaction = await kit.interactionFor(ctx, 'login');
    kit.requireCsrf(ctx, interaction);
    const login = await pendingAt(ctx, interaction, 'enrolled');
    if (login) await complete(ctx, login.accountId, login.amr, interaction.uid);
  });

  return {
    /** The "Sign in with a passkey" form of the login page (options with a fresh challenge). */
    async passkeySignIn(uid: string, t: Translate) {
      const { challengeId, options } = await services.passkeys.authenticationOptions();
      return { mode: 'login', action: `/interaction/${uid}/passkey`, label: t('login:passkey.signIn'), challengeId, options };
    },

    /**
     * After a right password: the code page when the user has a code factor, the enrolment when the policy
     * wants one they lack, else the login is complete with `pwd`.
     */
    async afterPassword(ctx: Context, interaction: Interaction, account: AccountView, identifier: string): Promise<void> {
      const methods = await services.mfaLogin.methods(account.id);
      if (methods.length) {
        await pending.start(interaction.uid, { accountId: account.id, identifier, stage: 'code', amr: PASSWORD_AMR });
        redirectTo(ctx, `/interaction/${interaction.uid}/second-factor`);
      } else if (!methods.length && services.mfaLogin.requiresFactor(account.roles)) {
        await pending.start(interaction.uid, { accountId: account.id, identifier, stage: 'enrol', amr: PASSWORD_AMR });
        redirectTo(ctx, `/interaction/${interaction.uid}/enrol`);
      } else {
        await complete(ctx, account.id, PASSWORD_AMR, interaction.uid);
      }
    },

    /**
     * A login prompt for a user who is signed in already (step-up, max_age): if they have a code factor,
     * they present it instead of the password. True when handled here.
     */
    async stepUp(ctx: Context, interaction: Interaction): Promise<boolean> {
      const accountId = interaction.session?.accountId;
      if (!accountId || !interaction.prompt.reasons.some((reason) => STEP_UP_REASONS.has(reason))) return false;
      const account = await services.getAccount(accountId);
      if (!account || account.status !== 'active') return false;
      const methods = await services.mfaLogin.methods(account.id);
      if (!methods.includes('totp') && !methods.includes('recovery_code')) return false;
      await pending.start(interaction.uid, { accountId, identifier: account.email, stage: 'code', amr: PASSWORD_AMR });
      redirectTo(ctx, `/interaction/${interaction.uid}/second-factor`);
      return true;
    },
  };
}
