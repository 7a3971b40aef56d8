/**
 * How factor secrets (TOTP seeds, passkey public keys) are kept at rest: sealed before they are written,
 * opened after they are read. The composition root passes the implementation (AES-256-GCM under
 * KEY_ENCRYPTION_KEY, CONTRACT §6), so the MFA services never hold the key themselves. Each value is bound
 * to its row (`context`, e.g. `totp:<user id>`): a sealed secret copied to another row does not open there.
 */
import { isSealed, type SecretBox } from '../secret-box.ts';

export interface SecretSealer {
  seal(plaintext: string, context: string): string;
  open(sealed: string, context: string): string;
}

/** The row a factor secret belongs to, as the secret box binds it. */
export const factorContext = {
  totp: (userId: string): string => `totp:${userId}`,
  passkey: (credentialId: string): string => `passkey:${credentialId}`,
};

/** A factor secret sealed under a KEY_ENCRYPTION_KEY that this process does not have. */
export class FactorSecretSealedError extends Error {
  constructor() {
    super('a second-factor secret is sealed with KEY_ENCRYPTION_KEY, which is not set');
    this.name = 'FactorSecretSealedError';
  }
}

/**
 * Keeps the text as it is: what the composition root uses without KEY_ENCRYPTION_KEY (development only,
 * production requires the key), so the factor tables then hold the TOTP seeds in the clear, as the
 * signing keys are without the key. A value sealed earlier under a key is refused, not used as a seed.
 */
export const unsealedSecrets: SecretSealer = {
  seal: (plaintext) => plaintext,
  open: (sealed) => {
    if (isSealed(sealed)) throw new FactorSecretSealedError();
    return sealed;
  },
};

/**
 * Seals with the secret box (KEY_ENCRYPTION_KEY). A value stored in the clear before the key was set (a
 * development database) is still read as it is; it is sealed the next time it is written.
 */
export function boxedSecrets(box: SecretBox): SecretSealer {
  return {
    seal: (plaintext, context) => box.seal(plaintext, context),
    open: (stored, context) => (box.isSealed(stored) ? box.open(stored, context) : stored),
  };
}
