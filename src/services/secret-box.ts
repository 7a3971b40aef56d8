/**
 * Secrets at rest (CONTRACT §6): AES-256-GCM under a key derived from KEY_ENCRYPTION_KEY. A sealed value is
 * one line of text, `enc:v1:<key id>:<iv>:<tag>:<ciphertext>` (base64url), so a column can hold sealed and
 * plaintext values side by side during an upgrade and tell them apart. The key id names the
 * KEY_ENCRYPTION_KEY that sealed a value, so a wrong key is reported as such, not as damaged data.
 * Each value is bound to a context (e.g. `signing-key:<kid>`): a sealed value copied to another record
 * does not open there.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export const SEALED_PREFIX = 'enc:v1:';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A sealed value that cannot be opened: another KEY_ENCRYPTION_KEY sealed it, or it was altered. */
export class SecretBoxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretBoxError';
  }
}

export interface SecretBox {
  /** Names this KEY_ENCRYPTION_KEY in sealed values (derived from it, reveals nothing of it). */
  readonly keyId: string;
  seal(plaintext: string, context: string): string;
  /** The plaintext of a value `seal` made with the same key and context; else throws SecretBoxError. */
  open(sealed: string, context: string): string;
  isSealed(value: string): boolean;
}

/** True for a value sealed by this or any later format version (`enc:v<N>:`), never for plaintext. */
export function isSealed(value: string): boolean {
  return /^enc:v\d+:/.test(value);
}

const derive = (key: Buffer, info: string, length: number): Buffer => Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), info, length));

export function createSecretBox(keyEncryptionKey: Buffer): SecretBox {
  if (keyEncryptionKey.length < 32) throw new Error('KEY_ENCRYPTION_KEY must be at least 32 bytes');
  // KEY_ENCRYPTION_KEY may be longer than AES needs; HKDF turns it into the cipher key and, separately, its id.
  const aesKey = derive(keyEncryptionKey, 'idp secret-box v1 aes-256-gcm', 32);
  const keyId = derive(keyEncryptionKey, 'idp secret-box v1 key id', 6).toString('base64url');

  return {
    keyId,
    isSealed,

    seal(plaintext, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', aesKey, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(context));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return `${SEALED_PREFIX}${keyId}:${iv.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}:${ciphertext.toString('base64url')}`;
    },

    open(sealed, context) {
      if (!isSealed(sealed)) throw new SecretBoxError('not a sealed value');
      if (!sealed.startsWith(SEALED_PREFIX)) throw new SecretBoxError(`sealed in a format this version cannot read (${sealed.split(':', 2).join(':')})`);
      const [sealedKeyId, iv, tag, ciphertext, ...rest] = sealed.slice(SEALED_PREFIX.length).split(':');
      if (ciphertext === undefined || rest.length > 0) throw new SecretBoxError('malformed sealed value');
      if (sealedKeyId !== keyId) {
        throw new SecretBoxError(`was sealed with a different KEY_ENCRYPTION_KEY (key id ${sealedKeyId}; the configured key has id ${keyId})`);
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', aesKey, Buffer.from(iv ?? '', 'base64url'), { authTagLength: TAG_BYTES });
        decipher.setAAD(Buffer.from(context));
        decipher.setAuthTag(Buffer.from(tag ?? '', 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
      } catch {
        throw new SecretBoxError('does not decrypt: altered, or sealed for another record');
      }
    },
  };
}
