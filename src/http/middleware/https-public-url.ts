import type { Middleware } from 'koa';

/**
 * With an https PUBLIC_URL, TLS ends before this process (a load balancer or proxy), so a request that
 * reaches us as plain HTTP was still https for the browser: cookies get `Secure`, and oidc-provider
 * (which trusts X-Forwarded-Proto because provider.proxy is on) sees https. Forwarded headers that only a
 * trusted proxy may set are dropped unless TRUST_PROXY says there is one, so the client cannot choose
 * the host or address oidc-provider sees.
 */
export function httpsPublicUrl(options: { trustProxy: boolean }): Middleware {
  return async (ctx, next) => {
    ctx.cookies.secure = true;
    const headers = ctx.req.headers;
    headers['x-forwarded-proto'] = 'https';
    if (!options.trustProxy) {
      delete headers['x-forwarded-host'];
      delete headers['x-forwarded-for'];
    }
    await next();
  };
}
