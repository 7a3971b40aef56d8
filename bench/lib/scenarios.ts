/** The load specs of each scenario, against the product or a baseline. */
import type { LoadSpec } from './load-spec.ts';

export interface Timing {
  warmupSeconds: number;
  seconds: number;
  connections: number;
}

const FORM = 'application/x-www-form-urlencoded';

export function basicAuth(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

export function bearerGet(url: string, poolFile: string, timing: Timing): LoadSpec {
  return { url, method: 'GET', headers: { authorization: 'Bearer {{item}}' }, poolFile, ...timing };
}

/** JSON login bodies from the pool; each request from another client address (see LoadSpec.spreadIps). */
export function login(url: string, poolFile: string, timing: Timing): LoadSpec {
  return { url, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{{item}}', poolFile, spreadIps: true, ...timing };
}

/** Sign-up bodies, each used once, each from its own client address (the open-route limit is per IP). */
export function register(url: string, poolFile: string, timing: Timing): LoadSpec {
  return { url, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{{item}}', poolFile, once: true, spreadIps: true, ...timing };
}

/** The TOTP step of a two-step login: each body (mfa_token + code) used once, from its own client address. */
export function mfaLogin(url: string, poolFile: string, timing: Timing): LoadSpec {
  return { url, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{{item}}', poolFile, once: true, spreadIps: true, ...timing };
}

export function legacyRefresh(url: string, poolFile: string, timing: Timing): LoadSpec {
  return {
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"refresh_token":"{{item}}"}',
    poolFile,
    once: true,
    ...timing,
  };
}

export function clientCredentials(url: string, auth: string, timing: Timing): LoadSpec {
  return { url, method: 'POST', headers: { 'content-type': FORM, authorization: auth }, body: 'grant_type=client_credentials', ...timing };
}

export function oidcRefresh(url: string, auth: string, poolFile: string, timing: Timing): LoadSpec {
  return {
    url,
    method: 'POST',
    headers: { 'content-type': FORM, authorization: auth },
    body: 'grant_type=refresh_token&refresh_token={{item}}',
    poolFile,
    ...timing,
  };
}

export function introspection(url: string, auth: string, poolFile: string, timing: Timing): LoadSpec {
  return { url, method: 'POST', headers: { 'content-type': FORM, authorization: auth }, body: 'token={{item}}', poolFile, ...timing };
}

/** RFC 8693 token exchange: the subject token (from the pool) traded for one for `target`. */
export function tokenExchange(url: string, auth: string, poolFile: string, target: string, timing: Timing): LoadSpec {
  const body = new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    resource: target,
  }).toString();
  return { url, method: 'POST', headers: { 'content-type': FORM, authorization: auth }, body: `${body}&subject_token={{item}}`, poolFile, ...timing };
}

/** A DELETE whose path comes from the pool (each item used once), with a bearer token. */
export function bearerDelete(url: string, path: string, token: string, poolFile: string, timing: Timing): LoadSpec {
  return { url, method: 'DELETE', path, headers: { authorization: `Bearer ${token}` }, poolFile, once: true, ...timing };
}
