import type { Context } from 'koa';

/**
 * Every URL the server builds (oidc-provider's discovery, redirects, interaction URLs and form actions,
 * cookies' scope) uses PUBLIC_URL's origin, whatever Host or X-Forwarded-Host a request carries (CONTRACT
 * §4): a forged Host must not put an attacker's origin into discovery or a redirect. Koa and oidc-provider
 * derive the origin from Host (or X-Forwarded-Host and X-Forwarded-Proto when they trust a proxy), so those
 * headers are set to PUBLIC_URL's before anything reads them.
 *
 * With an https PUBLIC_URL, TLS ends before this process (a load balancer or proxy), so a request that
 * reaches us as plain HTTP was still https for the browser: cookies get `Secure`, and oidc-provider (which
 * trusts X-Forwarded-Proto because provider.proxy is on) sees https. X-Forwarded-For, which only a trusted
 * proxy may set, is dropped unless TRUST_PROXY says there is one, so the client cannot choose the address.
 */
export function publicOrigin(options: { publicUrl: string; trustProxy: boolean }): (ctx: Context) => void {
  const { host, protocol } = new URL(options.publicUrl);
  const proto = protocol.slice(0, -1);
  const https = proto === 'https';
  return (ctx) => {
    const headers = ctx.req.headers;
    headers.host = host;
    headers['x-forwarded-host'] = host;
    headers['x-forwarded-proto'] = proto;
    if (https) ctx.cookies.secure = true;
    if (!options.trustProxy) delete headers['x-forwarded-for'];
  };
}
