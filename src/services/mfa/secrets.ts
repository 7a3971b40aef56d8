/**
 * How factor secrets (TOTP seeds, passkey public keys) are kept at rest: sealed before they are written,
 * opened after they are read. The composition root passes the implementation (AES-256-GCM under
 * KEY_ENCRYPTION_KEY, CONTRACT §6), so the MFA services never hold the key themselves.
 */
export interface SecretSealer {
  seal(plaintext: string): string;
  open(sealed: string): string;
}

/**
 * Keeps the text as it is. Used by the composition root while no KEY_ENCRYPTION_KEY sealer is wired in:
 * with it, the factor tables hold the TOTP seeds in the clear, as the signing keys are without the key.
 */
export const unsealedSecrets: SecretSealer = {
  seal: (plaintext) => plaintext,
  open: (sealed) => sealed,
};
