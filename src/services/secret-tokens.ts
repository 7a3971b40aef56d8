import { hash, randomBytes } from 'node:crypto';

/** 32 random bytes (256 bits), base64url: the form of every opaque token we hand out. */
export function newOpaqueToken(): string {
  return randomBytes(32).toString('base64url');
}

/** What the store keeps instead of a token: its SHA-256 (a token has 256 bits of entropy, so no salt or slow hash is needed). */
export function hashToken(token: string): string {
  return hash('sha256', token, 'base64url');
}

const OPAQUE_TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** Cheap shape check before any store look-up, so junk input never reaches the store. */
export function isOpaqueToken(value: unknown): value is string {
  return typeof value === 'string' && OPAQUE_TOKEN.test(value);
}
