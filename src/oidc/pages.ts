/**
 * The pages oidc-provider renders itself (errors, logout confirmation, device flow), drawn with our
 * templates so every page looks alike, works without JavaScript and never shows a stack trace.
 */
import type { Configuration, ErrorOut, KoaContextWithOIDC } from 'oidc-provider';

export interface PageRenderer {
  render(name: string, locals: Record<string, unknown> & { title: string }): Promise<string>;
}

type Features = NonNullable<Configuration['features']>;
type DeviceFlow = NonNullable<Features['deviceFlow']>;
type Logout = NonNullable<Features['rpInitiatedLogout']>;

const MESSAGES: Record<string, string> = {
  server_error: 'Something went wrong on our side. Please try again in a moment.',
  temporarily_unavailable: 'The service is temporarily unavailable. Please try again in a moment.',
  invalid_client: 'The application that sent you here is not known to this sign-in service.',
  invalid_redirect_uri: 'The application asked to send you back to an address it has not registered.',
  session_not_found: 'This sign-in request has expired or was already completed.',
  access_denied: 'The request was denied.',
};

/** A message fit for the page: the provider's own description, or a plain default. */
export function errorMessage(out: { error?: string; error_description?: string }): string {
  const known = out.error ? MESSAGES[out.error] : undefined;
  return known ?? out.error_description ?? (MESSAGES.server_error as string);
}

function clientNameOf(ctx: KoaContextWithOIDC): string | undefined {
  const client = ctx.oidc?.client;
  return client ? (client.clientName ?? client.clientId) : undefined;
}

async function page(ctx: KoaContextWithOIDC, pages: PageRenderer, name: string, locals: Record<string, unknown> & { title: string }) {
  ctx.type = 'html';
  ctx.body = await pages.render(name, locals);
}

export function renderErrorPage(pages: PageRenderer) {
  return async (ctx: KoaContextWithOIDC, out: ErrorOut): Promise<void> => {
    await page(ctx, pages, 'error', {
      title: 'Sign-in problem',
      heading: out.error === 'server_error' ? 'Something went wrong' : 'This request could not be completed',
      message: errorMessage(out),
      code: out.error,
      requestId: (ctx as { requestId?: string }).requestId,
    });
  };
}

export function logoutPages(pages: PageRenderer): Pick<Logout, 'logoutSource' | 'postLogoutSuccessSource'> {
  return {
    // Always a confirmation page: a link alone can never sign a user out (RP-Initiated Logout §2).
    async logoutSource(ctx, form) {
      await page(ctx, pages, 'logout', { title: 'Sign out', form, host: ctx.host, clientName: clientNameOf(ctx) });
    },
    async postLogoutSuccessSource(ctx) {
      await page(ctx, pages, 'logout-success', { title: 'Signed out', clientName: clientNameOf(ctx) });
    },
  };
}

/** The provider's code form lacks a label and uses an inline handler (blocked by our CSP): fix both. */
function accessibleCodeForm(form: string): string {
  return form
    .replace(/\sonfocus="[^"]*"/, '')
    .replace('name="user_code"', 'id="user_code" name="user_code" aria-label="Code shown on your device" aria-describedby="code-help"');
}

export function deviceFlowPages(pages: PageRenderer): Pick<DeviceFlow, 'userCodeInputSource' | 'userCodeConfirmSource' | 'successSource'> {
  return {
    async userCodeInputSource(ctx, form, _out, err) {
      let error: string | undefined;
      if (err && ((err as { userCode?: string }).userCode || err.name === 'NoCodeError')) error = 'That code is not right. Check your device and try again.';
      else if (err && err.name === 'AbortedError') error = 'The sign-in on the device was cancelled.';
      else if (err) error = 'That did not work. Please try again.';
      await page(ctx, pages, 'device-input', { title: 'Connect a device', form: accessibleCodeForm(form), error });
    },
    async userCodeConfirmSource(ctx, form, client, _deviceInfo, userCode) {
      await page(ctx, pages, 'device-confirm', { title: 'Confirm the device', form, clientName: client.clientName ?? client.clientId, userCode });
    },
    async successSource(ctx) {
      await page(ctx, pages, 'device-success', { title: 'Device connected', clientName: clientNameOf(ctx) });
    },
  };
}
