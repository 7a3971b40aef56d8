import type { QueryInterface } from 'sequelize';
import type { MigrationContext } from '../migrate.ts';
import { sealSigningKeys, unsealSigningKeys } from '../signing-key-sealing.ts';

// Private signing keys encrypted with KEY_ENCRYPTION_KEY. Without the key there is nothing to do yet: the
// server seals the plaintext keys at its first start with the key set (the same step, idempotent).
export async function up(queryInterface: QueryInterface, context: MigrationContext = {}): Promise<void> {
  if (context.sealer) await sealSigningKeys(queryInterface.sequelize, context.sealer);
}

// Back to plaintext, which needs the key that sealed them.
export async function down(queryInterface: QueryInterface, context: MigrationContext = {}): Promise<void> {
  await unsealSigningKeys(queryInterface.sequelize, context.sealer);
}
