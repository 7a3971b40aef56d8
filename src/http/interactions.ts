/**
 * The interactive pages of the OIDC flow, under /interaction/:uid: login and consent (CONTRACT §4).
 * oidc-provider sends the browser here when a request needs the user; we render the page, check the
 * answer (password through the account service, consent into a grant) and hand the result back with
 * interactionResult, which tells us where the browser continues. Plain HTML forms: no JavaScript.
 */
import Router from '@koa/router';
import { errors } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { Interaction } from 'oidc-provider';
import type { Context, Middleware } from 'koa';
import { RateLimitedError, ServerBusyError, ServiceUnavailableError } from '../errors.ts';
import type { ErrorTranslator } from './middleware/errors.ts';
import { PageError, servesPages } from './middleware/error-pages.ts';
import { AccountInactiveError, EmailAlreadyVerifiedError, InvalidCredentialsError } from '../services/accounts/errors.ts';
import type { AccountView } from '../services/accounts/view.ts';
import type { RequestContext } from '../services/request-context.ts';
import { abandonedSignal } from './abandoned.ts';
import type { Views } from './interactions/views.ts';
import { createCsrf } from './interactions/csrf.ts';
import { describeScopes } from './interactions/scope-text.ts';
import { errorMessage } from '../oidc/pages.ts';
import { metadataDocumentFacts } from '../oidc/cimd-policy.ts';
import { setNoStore } from './middleware/no-store.ts';
import { clientIp } from './client-ip.ts';
import { secondFactorPages, type InteractionPageKit, type SecondFactorServices } from './interactions/second-factor.ts';
import { signUpPages } from './interactions/sign-up.ts';
import type { RegisterInput } from '../services/accounts/accounts.ts';
import type { I18n, Translate } from '../services/i18n.ts';
import type { Locale } from '../config.ts';
import { localeOf, waitText } from './locale.ts';

export interface InteractionOptions {
  provider: Provider;
  views: Views;
  /** The pages' languages: the interaction's `ui_locales`, then Accept-Language (CONTRACT §4). */
  i18n: I18n;
  cookieKeys: readonly string[];
  /** Checks a password (the account service's authenticate, possibly rate-limited). */
  authenticate: (login: string, password: string, ctx: RequestContext) => Promise<AccountView>;
  getAccount: (id: string) => Promise<AccountView | undefined>;
  /** REQUIRE_EMAIL_VERIFICATION: an unverified user is shown the "verify your e-mail" page instead of being signed in. */
  requireEmailVerification?: boolean;
  /** Sends the user a new verification link (the account service's resend); absent when no page can take the link. */
  resendVerification?: (accountId: string, ctx: RequestContext) => Promise<void>;
  errorTranslators?: ErrorTranslator[];
  /** Self-service sign-up on the login page (REGISTRATION=open); absent: no sign-up link, no route. */
  register?: (input: RegisterInput, ctx: RequestContext) => Promise<AccountView>;
  /** The second-factor step and enrolment (CONTRACT §9); without it a right password completes the login. */
  secondFactor?: Omit<SecondFactorServices, 'getAccount'>;
}

type Form = Record<string, unknown>;

const EXPIRED = 'errors:expired';

/** What the resend form's token is bound to besides the interaction: the account it names. */
const verificationBinding = (accountId: string): string => `verify-email:${accountId}`;

/** A refusal of these pages: the catalogue key of its words and the OAuth-style code the page shows. */
const refusal = (status: number, key: string, code: string): PageError => new PageError(status, code, { key });

function formOf(ctx: Context): Form {
  const body = (ctx.request as { body?: unknown }).body;
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Form) : {};
}

function text(value: unknown, max: number): string {
  return typeof value === 'string' ? value.slice(0, max) : '';
}

/** Why a login failed, in words for the page, and the status the page is answered with. */
function loginFailure(t: Translate, err: unknown): { status: number; message: string; headers?: Record<string, string> } | undefined {
  if (err instanceof InvalidCredentialsError) return { status: 401, message: t('login:errors.invalidCredentials') };
  if (err instanceof AccountInactiveError) return { status: 403, message: t('login:errors.inactive') };
  if (err instanceof RateLimitedError) return { status: 429, message: t('login:errors.rateLimited', { wait: waitText(t, err) }), headers: err.headers };
  // The password-hash queue is full: the form again, to send once more in a moment.
  if (err instanceof ServerBusyError) return { status: 503, message: t('login:errors.busy'), headers: err.headers };
  return undefined;
}

export function createInteractionRouter(options: InteractionOptions): Router {
  const { provider, views, i18n } = options;
  const csrf = createCsrf(options.cookieKeys);
  // Errors of these routes, and of their bodies before routing, are answered as pages (error-pages.ts).
  const router = servesPages(new Router({ prefix: '/interaction' }));

  /**
   * The request's language: the interaction's `ui_locales` once it is known (interactionFor keeps it on
   * the context, so a POST answers in the language of its GET), before that the query and Accept-Language.
   */
  const langOf = (ctx: Context): Locale => localeOf(ctx, i18n);
  const tr = (ctx: Context): Translate => i18n.translator(langOf(ctx));

  async function render(ctx: Context, status: number, name: string, locals: Record<string, unknown> & { title: string }) {
    ctx.status = status;
    setNoStore(ctx);
    ctx.type = 'html';
    ctx.body = await views.render(name, { ...locals, lang: langOf(ctx) });
  }

  /**
   * The provider's own errors in the words of these pages; a store outage it wraps (see oidc/adapter.ts)
   * as the outage itself. Rendering is the error handler's (middleware/errors.ts).
   */
  const providerErrors: Middleware = async (ctx, next) => {
    try {
      await next();
    } catch (caught) {
      let err: unknown = caught;
      for (const translate of options.errorTranslators ?? []) err = translate(caught) ?? err;
      const cause = (err as { cause?: unknown } | undefined)?.cause;
      if (cause instanceof ServiceUnavailableError) throw cause;
      if (err instanceof errors.OIDCProviderError) throw new PageError(err.statusCode, err.error, { text: errorMessage(tr(ctx), err) });
      throw err;
    }
  };

  async function interactionFor(ctx: Context, prompt?: string): Promise<Interaction> {
    let interaction: Interaction;
    try {
      interaction = await provider.interactionDetails(ctx.req, ctx.res);
    } catch (err) {
      // No interaction cookie (expired, finished, or a cross-site form post) or no interaction behind it.
      if (err instanceof errors.OIDCProviderError) throw refusal(400, EXPIRED, 'session_not_found');
      throw err;
    }
    if (interaction.uid !== ctx.params.uid) throw refusal(400, EXPIRED, 'session_not_found');
    ctx.state.lang = localeOf(ctx, i18n, interaction.params.ui_locales);
    if (prompt && interaction.prompt.name !== prompt) throw refusal(400, 'errors:stepNotExpected', 'invalid_request');
    return interaction;
  }

  function requireCsrf(ctx: Context, interaction: Interaction): Form {
    const form = formOf(ctx);
    if (!csrf.verify(interaction.uid, form.csrf)) throw refusal(403, 'errors:formExpired', 'invalid_csrf');
    return form;
  }

  async function clientName(interaction: Interaction): Promise<{ name: string; uri?: string; document?: { host: string; loopbackOnly: boolean } }> {
    const clientId = String(interaction.params.client_id ?? '');
    const client = await provider.Client.find(clientId);
    return { name: client?.clientName ?? clientId, uri: client?.clientUri, document: metadataDocumentFacts(client) };
  }

  async function loginPage(ctx: Context, interaction: Interaction, status: number, login: string, error?: string) {
    const client = await clientName(interaction);
    await render(ctx, status, 'login', {
      title: tr(ctx)('login:title'),
      clientName: client.name,
      action: `/interaction/${interaction.uid}/login`,
      csrf: csrf.token(interaction.uid),
      login,
      error,
      passkey: await secondFactor?.passkeySignIn(interaction.uid, tr(ctx)),
      signUpUrl: signUp?.url(interaction.uid),
    });
  }

  /**
   * Shown after a right password when verification is required and the e-mail is unverified. The resend
   * form names the account with a token bound to it and to this interaction, so only the page the server
   * rendered after that password can ask for a mail to that account.
   */
  async function verifyEmailPage(ctx: Context, interaction: Interaction, status: number, account: AccountView, notice?: string) {
    const client = await clientName(interaction);
    await render(ctx, status, 'verify-email', {
      title: tr(ctx)('login:verify.title'),
      clientName: client.name,
      email: account.email,
      notice,
      resendAction: options.resendVerification ? `/interaction/${interaction.uid}/resend-verification` : undefined,
      account: account.id,
      csrf: csrf.token(interaction.uid, verificationBinding(account.id)),
      signInUrl: `/interaction/${interaction.uid}`,
    });
  }

  async function consentPage(ctx: Context, interaction: Interaction) {
    const client = await clientName(interaction);
    const details = interaction.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    const requested = String(interaction.params.scope ?? '').split(' ').filter(Boolean);
    const account = interaction.session?.accountId ? await options.getAccount(interaction.session.accountId) : undefined;
    const t = tr(ctx);
    await render(ctx, 200, 'consent', {
      title: t('consent:title'),
      clientName: client.name,
      clientUri: client.uri && /^https?:\/\//.test(client.uri) ? client.uri : undefined,
      // A client known only by its metadata document: the host that published it is what the user can judge.
      documentHost: client.document?.host,
      loopbackOnly: client.document?.loopbackOnly ?? false,
      accountName: account ? (account.username ?? account.email) : undefined,
      scopes: describeScopes(t, requested, details.missingResourceScopes),
      claims: details.missingOIDCClaims ?? [],
      action: `/interaction/${interaction.uid}/confirm`,
      csrf: csrf.token(interaction.uid),
    });
  }

  async function finish(ctx: Context, result: Parameters<Provider['interactionResult']>[2], merge: boolean) {
    const redirectTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
    setNoStore(ctx);
    ctx.status = 303;
    ctx.redirect(redirectTo);
  }

  router.use(providerErrors);

  const requestContextOf = (ctx: Context, interaction: Interaction): RequestContext => ({
    door: 'interaction',
    locale: langOf(ctx),
    ip: clientIp(ctx),
    userAgent: ctx.get('user-agent') || undefined,
    clientId: typeof interaction.params.client_id === 'string' ? interaction.params.client_id : undefined,
  });
  const kit: InteractionPageKit = {
    render,
    interactionFor,
    requireCsrf,
    csrfToken: (uid) => csrf.token(uid),
    finish,
    loginPage,
    requestContext: requestContextOf,
    translate: tr,
    // A passkey alone is a complete sign-in: it meets the same e-mail verification as the password.
    async unverified(ctx, interaction, account) {
      if (!options.requireEmailVerification || account.email_verified) return false;
      await verifyEmailPage(ctx, interaction, 403, account);
      return true;
    },
  };
  const secondFactor = options.secondFactor ? secondFactorPages(router, kit, { ...options.secondFactor, getAccount: options.getAccount }) : undefined;
  /** What follows a proven password (or a new account): the second factor when there is one or policy wants one. */
  async function afterPassword(ctx: Context, interaction: Interaction, account: AccountView, identifier: string): Promise<void> {
    if (secondFactor) await secondFactor.afterPassword(ctx, interaction, account, identifier);
    else await finish(ctx, { login: { accountId: account.id } }, false);
  }
  const signUp = options.register ? signUpPages(router, kit, { register: options.register, afterPassword }) : undefined;

  router.get('/:uid', async (ctx) => {
    const interaction = await interactionFor(ctx);
    if (interaction.prompt.name === 'login') {
      if (await secondFactor?.stepUp(ctx, interaction)) return;
      const hint = typeof interaction.params.login_hint === 'string' ? interaction.params.login_hint : '';
      await loginPage(ctx, interaction, 200, hint.slice(0, 320));
    } else if (interaction.prompt.name === 'consent') {
      await consentPage(ctx, interaction);
    } else {
      throw refusal(400, 'errors:stepNotSupported', 'invalid_request');
    }
  });

  router.post('/:uid/login', async (ctx) => {
    const interaction = await interactionFor(ctx, 'login');
    const form = requireCsrf(ctx, interaction);
    const login = text(form.login, 320).trim();
    const password = text(form.password, 1024);
    if (!login || !password) {
      await loginPage(ctx, interaction, 400, login, tr(ctx)('login:errors.missingFields'));
      return;
    }
    let account: AccountView;
    try {
      const clientId = typeof interaction.params.client_id === 'string' ? interaction.params.client_id : undefined;
      account = await options.authenticate(login, password, { door: 'interaction', locale: langOf(ctx), ip: clientIp(ctx), userAgent: ctx.get('user-agent') || undefined, clientId, abandoned: abandonedSignal(ctx) });
    } catch (err) {
      const failure = loginFailure(tr(ctx), err);
      if (!failure) throw err;
      for (const [name, value] of Object.entries(failure.headers ?? {})) ctx.set(name, value);
      await loginPage(ctx, interaction, failure.status, login, failure.message);
      return;
    }
    if (options.requireEmailVerification && !account.email_verified) {
      await verifyEmailPage(ctx, interaction, 403, account);
      return;
    }
    await afterPassword(ctx, interaction, account, login);
  });

  router.post('/:uid/resend-verification', async (ctx) => {
    const interaction = await interactionFor(ctx, 'login');
    const form = formOf(ctx);
    const accountId = text(form.account, 64);
    if (!options.resendVerification || !accountId || !csrf.verify(interaction.uid, form.csrf, verificationBinding(accountId))) {
      throw refusal(403, 'errors:formExpired', 'invalid_csrf');
    }
    const account = await options.getAccount(accountId);
    if (!account || account.status !== 'active') throw refusal(400, EXPIRED, 'session_not_found');
    const t = tr(ctx);
    try {
      // The mail goes out in the page's language (CONTRACT §4).
      await options.resendVerification(account.id, { door: 'interaction', locale: langOf(ctx), ip: clientIp(ctx), userAgent: ctx.get('user-agent') || undefined });
    } catch (err) {
      if (err instanceof EmailAlreadyVerifiedError) {
        await loginPage(ctx, interaction, 200, account.username ?? account.email, t('login:errors.alreadyVerified'));
        return;
      }
      if (err instanceof RateLimitedError) {
        for (const [name, value] of Object.entries(err.headers)) ctx.set(name, value);
        await verifyEmailPage(ctx, interaction, 429, account, t('login:verify.rateLimited', { wait: waitText(t, err) }));
        return;
      }
      throw err;
    }
    await verifyEmailPage(ctx, interaction, 200, account, t('login:verify.resent', { email: account.email }));
  });

  router.post('/:uid/confirm', async (ctx) => {
    const interaction = await interactionFor(ctx, 'consent');
    const form = requireCsrf(ctx, interaction);
    if (form.decision === 'deny') {
      await finish(ctx, { error: 'access_denied', error_description: 'End-User denied the request' }, false);
      return;
    }
    if (form.decision !== 'approve') throw refusal(400, 'errors:chooseDecision', 'invalid_request');
    const accountId = interaction.session?.accountId;
    const clientId = interaction.params.client_id;
    if (!accountId || typeof clientId !== 'string') throw refusal(400, EXPIRED, 'session_not_found');

    const details = interaction.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    const grant = (interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined) ?? new provider.Grant({ accountId, clientId });
    if (details.missingOIDCScope?.length) grant.addOIDCScope(details.missingOIDCScope.join(' '));
    if (details.missingOIDCClaims?.length) grant.addOIDCClaims(details.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    // Merged with the login result of this interaction, so checks such as max_age still see that login.
    await finish(ctx, { consent: { grantId } }, true);
  });

  return router;
}
