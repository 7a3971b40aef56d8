/**
 * A value encrypted (AES-256-GCM) under a key derived from a token the client holds: whoever presents the
 * token (a refresh token, an SSO cookie) can open it, nobody else can, the server included, so a stored
 * answer or record gives nothing away and there is no server secret to keep. `purpose` separates the keys
 * of different uses of one token, and is bound as associated data.
 */
import { createCipheriv, createDecipheriv, hash, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;

const keyOf = (purpose: string, token: string): Buffer => hash('sha256', `${purpose}|${token}`, 'buffer');

/** base64url(iv | ciphertext | tag) of `value` as JSON. */
export function sealUnderToken(purpose: string, token: string, value: unknown): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keyOf(purpose, token), iv);
  cipher.setAAD(Buffer.from(purpose));
  const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
}

/** The value, or undefined when `sealed` was not sealed for this purpose and token. */
export function openUnderToken<T>(purpose: string, token: string, sealed: unknown): T | undefined {
  if (typeof sealed !== 'string') return undefined;
  const raw = Buffer.from(sealed, 'base64url');
  if (raw.length < IV_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyOf(purpose, token), raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(purpose));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    const plain = Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
    return JSON.parse(plain.toString('utf8')) as T;
  } catch {
    return undefined;
  }
}
