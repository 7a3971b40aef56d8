/**
 * Private signing keys encrypted at rest with KEY_ENCRYPTION_KEY: the rows still in plaintext are sealed in
 * place, the rest checked. Used by migration 0008 and by every start (the key may be set after the migration
 * ran, or a process of an older version may have added a plaintext key), so it is idempotent.
 */
import type { Sequelize, Transaction } from 'sequelize';

/** What sealing needs of a secret box (services/secret-box.ts provides one). */
export interface Sealer {
  seal(plaintext: string, context: string): string;
  open(sealed: string, context: string): string;
  isSealed(value: string): boolean;
}

/** The context a signing key is sealed for: its ciphertext opens only in its own row. */
export const signingKeyContext = (kid: string): string => `signing-key:${kid}`;

/** Thrown when a stored key cannot be opened; the message names the key and says why, in one line. */
export class SigningKeySealError extends Error {
  constructor(kid: string, reason: string) {
    super(`KEY_ENCRYPTION_KEY: signing key ${kid} ${reason}`);
    this.name = 'SigningKeySealError';
  }
}

// secret-box's `enc:v<N>:` prefix: a sealed value is recognisable without the key.
const looksSealed = (value: string): boolean => /^enc:v\d+:/.test(value);

interface Row {
  kid: string;
  private_jwk: string;
}

/** Opens a stored private JWK (sealed or not); a sealed one without a sealer, or that does not open, throws. */
export function openSigningKey(row: { kid: string; privateJwk: string }, sealer: Sealer | undefined): string {
  if (!looksSealed(row.privateJwk)) return row.privateJwk;
  if (!sealer) throw new SigningKeySealError(row.kid, 'is stored encrypted, but KEY_ENCRYPTION_KEY is not set');
  try {
    return sealer.open(row.privateJwk, signingKeyContext(row.kid));
  } catch (err) {
    throw new SigningKeySealError(row.kid, (err as Error).message);
  }
}

/**
 * Seals every plaintext key; returns how many. The sealed ones are opened first, so a wrong key stops
 * here instead of leaving keys sealed under two different keys. Each update only replaces the plaintext
 * it read, so two processes doing this at once seal each key once.
 */
export async function sealSigningKeys(sequelize: Sequelize, sealer: Sealer, transaction?: Transaction): Promise<number> {
  const [rows] = (await sequelize.query('SELECT kid, private_jwk FROM signing_keys ORDER BY kid', { transaction })) as [Row[], unknown];
  const plaintext = rows.filter((row) => !sealer.isSealed(row.private_jwk));
  for (const row of rows) {
    if (sealer.isSealed(row.private_jwk)) openSigningKey({ kid: row.kid, privateJwk: row.private_jwk }, sealer);
  }
  for (const row of plaintext) {
    await sequelize.query('UPDATE signing_keys SET private_jwk = $1 WHERE kid = $2 AND private_jwk = $3', {
      bind: [sealer.seal(row.private_jwk, signingKeyContext(row.kid)), row.kid, row.private_jwk],
      transaction,
    });
  }
  return plaintext.length;
}

/** The reverse, for undoing migration 0008: every sealed key back to plaintext. */
export async function unsealSigningKeys(sequelize: Sequelize, sealer: Sealer | undefined): Promise<number> {
  const [rows] = (await sequelize.query('SELECT kid, private_jwk FROM signing_keys ORDER BY kid')) as [Row[], unknown];
  const sealed = rows.filter((row) => looksSealed(row.private_jwk));
  for (const row of sealed) {
    const plaintext = openSigningKey({ kid: row.kid, privateJwk: row.private_jwk }, sealer);
    await sequelize.query('UPDATE signing_keys SET private_jwk = $1 WHERE kid = $2 AND private_jwk = $3', {
      bind: [plaintext, row.kid, row.private_jwk],
    });
  }
  return sealed.length;
}
