/**
 * Client secrets are never kept in plain text: not in the database (oidc_clients.secret_hash) and not
 * in the provider's memory. Generated secrets carry 256+ random bits, so a fast hash is enough (a slow
 * password hash would only cost CPU on every token request); argon2/bcrypt hashes are accepted too,
 * for secrets imported from elsewhere.
 */
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { PasswordService } from './passwords.ts';

const SHA256_PREFIX = 'sha256$';

/** A new random client secret (256 bits, base64url): show it once, store only its hash. */
export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** The stored form of a client secret: `sha256$<base64url digest>`. */
export function hashClientSecret(secret: string): string {
  return SHA256_PREFIX + hash('sha256', secret, 'base64url');
}

export function isClientSecretHash(value: string): boolean {
  return value.startsWith(SHA256_PREFIX) || value.startsWith('$argon2') || /^\$2[aby]\$/.test(value);
}

/** Checks a presented secret against its stored hash in constant time (per hash kind). */
export async function verifyClientSecret(
  presented: string,
  stored: string | undefined,
  passwords?: Pick<PasswordService, 'verify'>,
): Promise<boolean> {
  if (!stored || !presented) return false;
  if (stored.startsWith(SHA256_PREFIX)) {
    // Runs on every token request of a confidential client: one-shot digest, compared as bytes.
    const expected = Buffer.from(stored.slice(SHA256_PREFIX.length), 'base64url');
    const actual = hash('sha256', presented, 'buffer');
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
  if (passwords && isClientSecretHash(stored)) return (await passwords.verify(stored, presented)).ok;
  return false;
}
