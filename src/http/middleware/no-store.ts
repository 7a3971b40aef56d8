import type { Context, Middleware } from 'koa';

/**
 * Responses that carry tokens, secrets, personal data or a page's CSRF token are never kept by a browser
 * or a proxy (RFC 6749 §5.1, RFC 9111). `noStore` for whole routers and routes, `setNoStore` where a
 * handler decides (a page render, a redirect).
 */
export function setNoStore(ctx: Pick<Context, 'set'>): void {
  ctx.set('Cache-Control', 'no-store');
}

export const noStore: Middleware = async (ctx, next) => {
  setNoStore(ctx);
  await next();
};
