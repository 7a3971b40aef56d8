import type { Config } from '../config.ts';
import { runMigrations } from '../db/migrate.ts';
import { sealSigningKeys } from '../db/signing-key-sealing.ts';
import { createSecretBox } from '../services/secret-box.ts';
import { withDatabase } from './database.ts';

export type Print = (line: string) => void;

/**
 * `migrate`: applies pending migrations and, with KEY_ENCRYPTION_KEY set, encrypts the signing keys still
 * stored in plaintext (migration 0008 does so once; keys added later by a process without the key, or a
 * key set after 0008 ran, are caught here and at every start). Returns the migrations' names.
 */
export async function runMigrateCommand(config: Pick<Config, 'database' | 'keyEncryptionKey'>, print: Print = console.log): Promise<string[]> {
  const sealer = config.keyEncryptionKey ? createSecretBox(config.keyEncryptionKey) : undefined;
  const { applied, sealed } = await withDatabase(config, async (sequelize) => {
    const names = await runMigrations(sequelize, { sealer });
    return { applied: names, sealed: sealer ? await sealSigningKeys(sequelize, sealer) : 0 };
  });
  if (applied.length === 0) print('Database schema is up to date; no pending migrations.');
  for (const name of applied) print(`applied ${name}`);
  if (sealed > 0) print(`encrypted ${sealed} signing key(s) with KEY_ENCRYPTION_KEY`);
  return applied;
}
