/**
 * A client's `jwks_uri` must be reachable from the provider: oidc-provider refuses to fetch from
 * special-use addresses (its SSRF guard), so a jwks_uri on a loopback, private or link-local address would
 * make every token request of that client fail. CONTRACT §4 refuses it at registration instead, with a
 * clear message: the literal address is checked, and a host name is resolved and each of its addresses
 * checked (a name can point anywhere).
 */
import { BlockList, isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { errors } from 'oidc-provider';

/** Addresses that are not on the public internet (RFC 6890 special-use blocks an outside client cannot serve from). */
const INTERNAL = new BlockList();
for (const [prefix, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) INTERNAL.addSubnet(prefix, bits, 'ipv4');
for (const [prefix, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b:1::', 48]] as const) {
  INTERNAL.addSubnet(prefix, bits, 'ipv6');
}

/** Loopback, private, link-local and the other special-use addresses (IPv4-mapped IPv6 included). */
export function isInternalAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return INTERNAL.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** Every address a host name resolves to. */
export type ResolveHost = (hostname: string) => Promise<string[]>;

const RESOLVE_TIMEOUT_MS = 5000;

/** The system resolver (getaddrinfo), bounded in time; also what back-channel delivery resolves with. */
export async function resolveWithSystem(hostname: string): Promise<string[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), RESOLVE_TIMEOUT_MS);
  });
  try {
    const found = await Promise.race([lookup(hostname, { all: true, verbatim: true }), timeout]);
    return found.map((entry) => entry.address);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Checks a client's jwks_uri (when it has one) before the client is saved; throws oidc-provider's
 * InvalidClientMetadata naming `jwks_uri`, which the doors answer as a 422 on that member.
 */
export function createJwksUriCheck(resolve: ResolveHost = resolveWithSystem) {
  return async function checkJwksUri(jwksUri: unknown): Promise<void> {
    if (typeof jwksUri !== 'string') return;
    let hostname: string;
    try {
      hostname = new URL(jwksUri).hostname.replace(/^\[(.*)\]$/, '$1');
    } catch {
      return; // not a URL: oidc-provider's own validation says so
    }
    let addresses: string[];
    if (isIP(hostname)) addresses = [hostname];
    else {
      try {
        addresses = await resolve(hostname);
      } catch {
        addresses = [];
      }
      if (addresses.length === 0) throw new errors.InvalidClientMetadata(`jwks_uri host ${hostname} could not be resolved`);
    }
    const internal = addresses.find(isInternalAddress);
    if (internal !== undefined) {
      const where = internal === hostname ? hostname : `${hostname} (${internal})`;
      throw new errors.InvalidClientMetadata(`jwks_uri must not point at a loopback, private or link-local address: ${where}`);
    }
  };
}

export type JwksUriCheck = ReturnType<typeof createJwksUriCheck>;
