/**
 * A stored OIDC record's payload, encrypted (AES-256-GCM) under a key derived from the record's own id:
 * the payload holds the token itself (`jti`) and, for interactions, the SSO cookie and device code, so
 * reading the store must not yield them (CONTRACT §5). Whoever presents the id (the token, the cookie) can
 * open it; nobody else can, the server included, so nothing is left to keep secret. The key is another
 * hash of the id than the record's name (storage-keys.ts), so the name never gives the key away.
 */
import { createCipheriv, createDecipheriv, hash, randomBytes } from 'node:crypto';
import type { AdapterPayload } from 'oidc-provider';

export interface SealedPayload {
  sealed: string;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

const keyOf = (id: string): Buffer => hash('sha256', `oidc-seal:${id}`, 'buffer');

export function seal(model: string, id: string, payload: AdapterPayload): SealedPayload {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keyOf(id), iv);
  cipher.setAAD(Buffer.from(model));
  const body = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()]);
  return { sealed: Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url') };
}

/** The payload, or undefined when the value is not a record sealed for this id and model. */
export function unseal(model: string, id: string, value: unknown): AdapterPayload | undefined {
  const text = (value as Partial<SealedPayload> | undefined)?.sealed;
  if (typeof text !== 'string') return undefined;
  const raw = Buffer.from(text, 'base64url');
  if (raw.length < IV_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyOf(id), raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(model));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    const plain = Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
    return JSON.parse(plain.toString('utf8')) as AdapterPayload;
  } catch {
    return undefined;
  }
}
