/**
 * The pages oidc-provider renders itself (errors, logout confirmation, device flow), drawn with our
 * templates so every page looks alike, works without JavaScript and never shows a stack trace. Each is in
 * the request's language: its `ui_locales` (the end-session or authorization request's), then
 * Accept-Language (CONTRACT §4).
 */
import type { Configuration, ErrorOut, KoaContextWithOIDC } from 'oidc-provider';
import type { Context } from 'koa';
import type { I18n, Translate } from '../services/i18n.ts';
import type { Locale } from '../config.ts';
import { localeOf } from '../http/locale.ts';

export interface PageRenderer {
  render(name: string, locals: Record<string, unknown> & { title: string; lang?: Locale }): Promise<string>;
}

type Features = NonNullable<Configuration['features']>;
type DeviceFlow = NonNullable<Features['deviceFlow']>;
type Logout = NonNullable<Features['rpInitiatedLogout']>;

/** Protocol errors with words of their own (`errors:oidc.<code>`); others show the provider's description. */
const WORDED = new Set(['server_error', 'temporarily_unavailable', 'invalid_client', 'invalid_redirect_uri', 'session_not_found', 'access_denied']);

/**
 * A message fit for the page: our words for a known error, else the provider's own description (English,
 * technical: other languages say so around it), never a server error's details.
 */
export function errorMessage(t: Translate, out: { error?: string; error_description?: string }): string {
  if (out.error && WORDED.has(out.error)) return t(`errors:oidc.${out.error}`);
  if (out.error_description && out.error !== 'server_error') return t('errors:detail', { detail: out.error_description });
  return t('errors:oidc.server_error');
}

/** The language of a provider page: the request's `ui_locales` (the provider's parsed parameters), then Accept-Language. */
export function pageLocale(ctx: Context, i18n: I18n): Locale {
  const params = (ctx as unknown as Partial<KoaContextWithOIDC>).oidc?.params;
  return localeOf(ctx, i18n, params?.ui_locales);
}

function clientNameOf(ctx: KoaContextWithOIDC): string | undefined {
  const client = ctx.oidc?.client;
  return client ? (client.clientName ?? client.clientId) : undefined;
}

/** Draws a page in the request's language; `locals` gets the translator to fill in its title and words. */
async function page(ctx: KoaContextWithOIDC, pages: PageRenderer, i18n: I18n, name: string, locals: (t: Translate) => Record<string, unknown> & { title: string }) {
  const lang = pageLocale(ctx as unknown as Context, i18n);
  ctx.type = 'html';
  ctx.body = await pages.render(name, { ...locals(i18n.translator(lang)), lang });
}

/** The error page of a protocol error; `message` words it when our catalogue knows better than `out`. */
export async function errorPage(pages: PageRenderer, i18n: I18n, ctx: KoaContextWithOIDC, out: ErrorOut, message?: (t: Translate) => string): Promise<void> {
  await page(ctx, pages, i18n, 'error', (t) => ({
    title: t('errors:title'),
    heading: out.error === 'server_error' ? t('errors:serverHeading') : t('errors:heading'),
    message: message ? message(t) : errorMessage(t, out),
    code: out.error,
    requestId: (ctx as { requestId?: string }).requestId,
  }));
}

export function renderErrorPage(pages: PageRenderer, i18n: I18n) {
  return (ctx: KoaContextWithOIDC, out: ErrorOut): Promise<void> => errorPage(pages, i18n, ctx, out);
}

export function logoutPages(pages: PageRenderer, i18n: I18n): Pick<Logout, 'logoutSource' | 'postLogoutSuccessSource'> {
  return {
    // Always a confirmation page: a link alone can never sign a user out (RP-Initiated Logout §2).
    async logoutSource(ctx, form) {
      await page(ctx, pages, i18n, 'logout', (t) => ({ title: t('logout:title'), form, host: ctx.host, clientName: clientNameOf(ctx) }));
    },
    // Reached by a redirect that carries no ui_locales: Accept-Language decides.
    async postLogoutSuccessSource(ctx) {
      await page(ctx, pages, i18n, 'logout-success', (t) => ({ title: t('logout:success.title'), clientName: clientNameOf(ctx) }));
    },
  };
}

/** The provider's code form lacks a label and uses an inline handler (blocked by our CSP): fix both. */
function accessibleCodeForm(form: string, label: string): string {
  const escaped = label.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return form
    .replace(/\sonfocus="[^"]*"/, '')
    .replace('name="user_code"', `id="user_code" name="user_code" aria-label="${escaped}" aria-describedby="code-help"`);
}

export function deviceFlowPages(pages: PageRenderer, i18n: I18n): Pick<DeviceFlow, 'userCodeInputSource' | 'userCodeConfirmSource' | 'successSource'> {
  return {
    async userCodeInputSource(ctx, form, _out, err) {
      await page(ctx, pages, i18n, 'device-input', (t) => {
        let error: string | undefined;
        if (err && ((err as { userCode?: string }).userCode || err.name === 'NoCodeError')) error = t('device:input.wrongCode');
        else if (err && err.name === 'AbortedError') error = t('device:input.aborted');
        else if (err) error = t('device:input.failed');
        return { title: t('device:input.title'), form: accessibleCodeForm(form, t('device:input.codeLabel')), error };
      });
    },
    async userCodeConfirmSource(ctx, form, client, _deviceInfo, userCode) {
      await page(ctx, pages, i18n, 'device-confirm', (t) => ({ title: t('device:confirm.title'), form, clientName: client.clientName ?? client.clientId, userCode }));
    },
    async successSource(ctx) {
      await page(ctx, pages, i18n, 'device-success', (t) => ({ title: t('device:success.title'), clientName: clientNameOf(ctx) }));
    },
  };
}
