import helmet from 'koa-helmet';
import type { Middleware } from 'koa';

/**
 * Security headers on every response: nosniff, no framing (frame-ancestors 'none' + X-Frame-Options),
 * a strict CSP for our pages (no inline script; form-action is left open because a login form's
 * redirect chain ends at the relying party's origin), HSTS only when served over https.
 */
export function securityHeaders(options: { https: boolean }): Middleware {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'"],
        'style-src': ["'self'"],
        'img-src': ["'self'", 'data:'],
        'font-src': ["'self'"],
        'connect-src': ["'self'"],
        'object-src': ["'none'"],
        'base-uri': ["'none'"],
        'frame-ancestors': ["'none'"],
      },
    },
    crossOriginEmbedderPolicy: false,
    frameguard: { action: 'deny' },
    strictTransportSecurity: options.https ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    referrerPolicy: { policy: 'no-referrer' },
  }) as Middleware;
}
