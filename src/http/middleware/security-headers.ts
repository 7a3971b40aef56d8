import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';
import type { Middleware } from 'koa';

type HeaderList = readonly (readonly [string, string])[];

/**
 * The headers of our pages, as helmet sets them for our policy: nosniff, no framing (frame-ancestors
 * 'none' + X-Frame-Options), a strict CSP (no inline script; form-action is left open because a login
 * form's redirect chain ends at the relying party's origin), HSTS only when served over https.
 */
function helmetFor(https: boolean) {
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
    strictTransportSecurity: https ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    referrerPolicy: { policy: 'no-referrer' },
  });
}

/** helmet's headers, recorded once: the policy has no per-request part (no nonce, nothing read from the request). */
function recordHelmet(https: boolean): HeaderList {
  const headers: [string, string][] = [];
  const recorder = {
    setHeader(name: string, value: unknown) {
      headers.push([name, String(value)]);
    },
    removeHeader() {},
  };
  let finished = false;
  helmetFor(https)({} as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err;
    finished = true;
  });
  if (!finished) throw new Error('helmet did not set its headers synchronously');
  return headers;
}

export interface SecurityHeaders {
  /** HTML pages: helmet's full set. */
  page: HeaderList;
  /** Everything else (JSON, JWKS, metrics): what an API response needs (OWASP REST Security Cheat Sheet). */
  api: HeaderList;
}

export function securityHeaderSets(options: { https: boolean }): SecurityHeaders {
  const page = recordHelmet(options.https);
  const hsts = page.filter(([name]) => name === 'Strict-Transport-Security');
  const api: HeaderList = [
    ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
    ['X-Content-Type-Options', 'nosniff'],
    ['X-Frame-Options', 'DENY'],
    ['Referrer-Policy', 'no-referrer'],
    ...hsts,
  ];
  return { page, api };
}

/** Sets the headers that the response does not already carry (a page with its own CSP keeps it). */
export function applySecurityHeaders(res: ServerResponse, headers: HeaderList): void {
  if (res.headersSent) return;
  for (const [name, value] of headers) if (!res.hasHeader(name)) res.setHeader(name, value);
}

/**
 * For a Koa app whose error handler sits below it, so every response, error or not, passes here once its
 * body is decided: HTML gets the page set, anything else the API set. Only pages pay for the fuller set
 * (on the token endpoints every header costs on each request, bench/README.md).
 */
export function securityHeaders(options: { https: boolean }): Middleware {
  const sets = securityHeaderSets(options);
  return async (ctx, next) => {
    try {
      await next();
    } finally {
      const type = ctx.res.getHeader('Content-Type');
      applySecurityHeaders(ctx.res, typeof type === 'string' && type.startsWith('text/html') ? sets.page : sets.api);
    }
  };
}
