/**
 * RFC 6238 TOTP with the parameters every authenticator app understands: SHA-1, 6 digits, 30 s, and
 * one step of clock drift either way (CONTRACT §9). The library does the arithmetic; this file fixes the
 * parameters and reports the time step a code matched, which the caller records so a code is used once.
 */
import { Secret, TOTP } from 'otpauth';

export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
const WINDOW = 1;
// 160 bits, RFC 4226's recommended secret length for HMAC-SHA-1.
const SECRET_BYTES = 20;

function totp(secret: string, label = '', issuer = ''): TOTP {
  return new TOTP({ issuer, label, algorithm: 'SHA1', digits: TOTP_DIGITS, period: TOTP_PERIOD_SECONDS, secret: Secret.fromBase32(secret) });
}

/** A fresh random secret, base32 (what the user types into an app that cannot scan). */
export function newTotpSecret(): string {
  return new Secret({ size: SECRET_BYTES }).base32;
}

/** The `otpauth://totp/…` URI an authenticator app scans. */
export function totpUri(secret: string, account: string, issuer: string): string {
  return totp(secret, account, issuer).toString();
}

/** The time step a 6-digit code belongs to (within ±1 step of `now`), or undefined when it matches none. */
export function matchTotp(secret: string, code: string, now = Date.now()): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const delta = totp(secret).validate({ token: code, timestamp: now, window: WINDOW });
  if (delta === null) return undefined;
  return TOTP.counter({ period: TOTP_PERIOD_SECONDS, timestamp: now }) + delta;
}

/** The code of a given moment (tests, the benchmark's client). */
export function totpCode(secret: string, now = Date.now()): string {
  return totp(secret).generate({ timestamp: now });
}
