/**
 * One delivery attempt of a logout token (OIDC Back-Channel Logout 1.0 §2.5): an HTTP POST of
 * `logout_token=<jwt>` to the client's `backchannel_logout_uri`, answered 200 or 204 when received.
 *
 * The host is resolved once, checked with the jwks_uri policy's address check (loopback, private,
 * link-local and other special-use addresses are refused unless BACKCHANNEL_ALLOW_PRIVATE), and the
 * connection goes to that checked address (the socket's lookup is pinned to it): a name that resolves
 * to a public address at the check and to an internal one a moment later (DNS rebinding) cannot reach
 * the inside. TLS still verifies the certificate against the host name. Redirects are not followed.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { isInternalAddress, resolveWithSystem, type ResolveHost } from './jwks-uri-policy.ts';

export type PostResult =
  | { result: 'delivered'; status: number }
  | { result: 'http_error'; status: number }
  | { result: 'refused_private_address'; address: string }
  | { result: 'unresolvable' | 'timeout' | 'network_error' | 'invalid_uri' };

export interface PostOptions {
  allowPrivate: boolean;
  timeoutMs: number;
  resolve?: ResolveHost;
}

/** A lookup that answers every query with the one address already checked. */
function pinnedLookup(address: string): LookupFunction {
  const family = isIP(address);
  return (_hostname, options, callback) => {
    // Node asks for all addresses when it may race IPv4 and IPv6 (autoSelectFamily).
    if ((options as { all?: boolean }).all) (callback as (err: null, all: { address: string; family: number }[]) => void)(null, [{ address, family }]);
    else callback(null, address, family);
  };
}

function withTimeout<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function send(url: URL, address: string, body: string, signal: AbortSignal): Promise<number> {
  const request = url.protocol === 'https:' ? https.request : http.request;
  return new Promise<number>((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' },
        lookup: pinnedLookup(address),
        signal,
        // The receiver's answer body is of no interest; one socket per attempt, closed after it.
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('error', () => undefined);
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** POSTs the logout token; never throws: every way it can go is a result. */
export async function postLogoutToken(uri: string, logoutToken: string, options: PostOptions): Promise<PostResult> {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return { result: 'invalid_uri' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { result: 'invalid_uri' };
  const signal = AbortSignal.timeout(options.timeoutMs);
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let addresses: string[];
  try {
    addresses = isIP(hostname) ? [hostname] : await withTimeout((options.resolve ?? resolveWithSystem)(hostname), signal);
  } catch {
    return signal.aborted ? { result: 'timeout' } : { result: 'unresolvable' };
  }
  if (addresses.length === 0) return { result: 'unresolvable' };
  if (!options.allowPrivate) {
    // Every address of the name is checked, as for jwks_uri: one internal address is enough to refuse.
    const internal = addresses.find(isInternalAddress);
    if (internal !== undefined) return { result: 'refused_private_address', address: internal };
  }
  try {
    const status = await send(url, addresses[0] as string, new URLSearchParams({ logout_token: logoutToken }).toString(), signal);
    return status === 200 || status === 204 ? { result: 'delivered', status } : { result: 'http_error', status };
  } catch {
    return signal.aborted ? { result: 'timeout' } : { result: 'network_error' };
  }
}
