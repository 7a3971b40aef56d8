/**
 * The authorization and end-session endpoints must accept POST (OIDC Core §3.1.2.1, RP-Initiated
 * Logout §2), but a cross-site POST does not carry SameSite=Lax cookies, so oidc-provider would not
 * see the SSO session (it refuses POST support unless cookies are SameSite=None). We answer such a
 * POST with a 303 to the same request as a GET: the browser follows it as a top-level navigation,
 * which does carry Lax cookies, and the provider handles it as usual.
 */
import type { Middleware } from 'koa';

const FORM = 'application/x-www-form-urlencoded';
const BODY_LIMIT_BYTES = 100 * 1024;

export class RequestBodyError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

async function readForm(req: AsyncIterable<Buffer | string>): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buffer.length;
    if (size > BODY_LIMIT_BYTES) throw new RequestBodyError(413, 'Request body too large');
    chunks.push(buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
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
  return async (ctx, next) => {
    if (ctx.method !== 'POST' || !handled.has(ctx.path)) return next();
    if (!ctx.is(FORM)) {
      await renderError(ctx, 400, 'This request must be sent as an HTML form (application/x-www-form-urlencoded).');
      return;
    }
    let form: URLSearchParams;
    try {
      form = await readForm(ctx.req);
    } catch (err) {
      if (!(err instanceof RequestBodyError)) throw err;
      await renderError(ctx, err.status, err.message);
      return;
    }
    const params = new URLSearchParams(ctx.querystring);
    for (const [name, value] of form) params.append(name, value);
    const query = params.toString();
    ctx.status = 303;
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(`${issuer}${ctx.path}${query ? `?${query}` : ''}`);
  };
}
