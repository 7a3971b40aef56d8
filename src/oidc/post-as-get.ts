/**
 * The authorization and end-session endpoints must accept POST (OIDC Core §3.1.2.1, RP-Initiated
 * Logout §2), but a cross-site POST does not carry SameSite=Lax cookies, so oidc-provider would not
 * see the SSO session (it refuses POST support unless cookies are SameSite=None). We answer such a
 * POST with a 303 to the same request as a GET: the browser follows it as a top-level navigation,
 * which does carry Lax cookies, and the provider handles it as usual.
 */
import coBody from 'co-body';
import type { Context, Middleware } from 'koa';
import { setNoStore } from '../http/middleware/no-store.ts';

const FORM = 'application/x-www-form-urlencoded';
const BODY_LIMIT = '100kb';

export class RequestBodyError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/**
 * The form, read to its limit by the same reader as every other body (co-body). At the limit it stops
 * without touching the socket: the 413 page is written, then what is left of the body is dropped or the
 * connection closed (src/http/middleware/unread-body.ts).
 */
async function readForm(ctx: Context): Promise<URLSearchParams> {
  let text: string;
  try {
    text = (await coBody.text(ctx, { limit: BODY_LIMIT, encoding: 'utf-8' })) as string;
  } catch (err) {
    const { status, type } = err as { status?: number; type?: string };
    if (status === 413 || type === 'entity.too.large') throw new RequestBodyError(413, 'Request body too large');
    if (status === 415) throw new RequestBodyError(415, 'Unsupported request body encoding');
    if (status !== undefined && status >= 400 && status < 500) throw new RequestBodyError(400, 'The request body could not be read.');
    throw err;
  }
  return new URLSearchParams(text);
}

/**
 * @param paths endpoint paths relative to the provider's mount (e.g. `/auth`, `/session/end`)
 * @param issuer the provider's issuer; the redirect goes to `${issuer}${path}`
 * @param renderError draws the page for a request that cannot be turned into a GET
 */
export function postAsGet(
  paths: readonly string[],
  issuer: string,
  renderError: (ctx: Parameters<Middleware>[0], status: number, message: string) => Promise<void>,
): Middleware {
  const handled = new Set(paths);
  // Every other request passes straight through, with no async frame of its own (it sits in front of the
  // token endpoints).
  return (ctx, next) => (ctx.method === 'POST' && handled.has(ctx.path) ? redirectAsGet(ctx) : next());

  async function redirectAsGet(ctx: Parameters<Middleware>[0]): Promise<void> {
    if (!ctx.is(FORM)) {
      await renderError(ctx, 400, 'This request must be sent as an HTML form (application/x-www-form-urlencoded).');
      return;
    }
    let form: URLSearchParams;
    try {
      form = await readForm(ctx);
    } catch (err) {
      if (!(err instanceof RequestBodyError)) throw err;
      await renderError(ctx, err.status, err.message);
      return;
    }
    const params = new URLSearchParams(ctx.querystring);
    for (const [name, value] of form) params.append(name, value);
    const query = params.toString();
    ctx.status = 303;
    setNoStore(ctx);
    ctx.redirect(`${issuer}${ctx.path}${query ? `?${query}` : ''}`);
  }
}
