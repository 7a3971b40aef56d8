import { SequelizeStorage, Umzug } from 'umzug';
import type { QueryInterface, Sequelize } from 'sequelize';
import * as createOrganizations from './migrations/0001-create-organizations.ts';
import * as createUsers from './migrations/0002-create-users.ts';
import * as createRoles from './migrations/0003-create-roles.ts';
import * as createMemberships from './migrations/0004-create-memberships.ts';
import * as createSigningKeys from './migrations/0005-create-signing-keys.ts';
import * as createOidcClients from './migrations/0006-create-oidc-clients.ts';
import * as createAuditEvents from './migrations/0007-create-audit-events.ts';
import * as encryptSigningKeys from './migrations/0008-encrypt-signing-keys.ts';
import * as grantIdpAdminRole from './migrations/0009-grant-idp-admin-role.ts';
import * as normalizeUsernamesNfkc from './migrations/0010-normalize-usernames-nfkc.ts';
import * as createTotpFactors from './migrations/0011-create-totp-factors.ts';
import * as createRecoveryCodes from './migrations/0012-create-recovery-codes.ts';
import * as createPasskeys from './migrations/0013-create-passkeys.ts';
import * as createResources from './migrations/0014-create-resources.ts';
import * as addOidcClientSource from './migrations/0015-add-oidc-client-source.ts';
import type { Sealer } from './signing-key-sealing.ts';

/** What a migration may need beyond the schema: the secret box when KEY_ENCRYPTION_KEY is set. */
export interface MigrationContext {
  sealer?: Sealer;
}

export interface MigrationModule {
  up(queryInterface: QueryInterface, context?: MigrationContext): Promise<void>;
  down(queryInterface: QueryInterface, context?: MigrationContext): Promise<void>;
}

/**
 * Every migration, in order. An explicit list (not a glob) so it works the same under Node's
 * type stripping and after a build; a test checks it against the files in migrations/.
 * Names carry no extension so they stay stable if the files are ever compiled to .js.
 */
export const MIGRATIONS: ReadonlyArray<readonly [name: string, module: MigrationModule]> = [
  ['0001-create-organizations', createOrganizations],
  ['0002-create-users', createUsers],
  ['0003-create-roles', createRoles],
  ['0004-create-memberships', createMemberships],
  ['0005-create-signing-keys', createSigningKeys],
  ['0006-create-oidc-clients', createOidcClients],
  ['0007-create-audit-events', createAuditEvents],
  ['0008-encrypt-signing-keys', encryptSigningKeys],
  ['0009-grant-idp-admin-role', grantIdpAdminRole],
  ['0010-normalize-usernames-nfkc', normalizeUsernamesNfkc],
  ['0011-create-totp-factors', createTotpFactors],
  ['0012-create-recovery-codes', createRecoveryCodes],
  ['0013-create-passkeys', createPasskeys],
  ['0014-create-resources', createResources],
  ['0015-add-oidc-client-source', addOidcClientSource],
];

export type Migrator = Umzug<QueryInterface>;

export function createMigrator(sequelize: Sequelize, extra: MigrationContext = {}): Migrator {
  return new Umzug<QueryInterface>({
    migrations: MIGRATIONS.map(([name, migration]) => ({
      name,
      up: ({ context }) => migration.up(context, extra),
      down: ({ context }) => migration.down(context, extra),
    })),
    context: sequelize.getQueryInterface(),
    storage: new SequelizeStorage({ sequelize, tableName: 'schema_migrations' }),
    logger: undefined,
  });
}

/** Applies pending migrations and returns their names (empty when the schema is current). */
export async function runMigrations(sequelize: Sequelize, extra: MigrationContext = {}): Promise<string[]> {
  return withMigrationLock(sequelize, async () => {
    const applied = await createMigrator(sequelize, extra).up();
    return applied.map((migration) => migration.name);
  });
}

// Arbitrary constant shared by every process of this application.
const MIGRATION_LOCK_KEY = 720_391_845;

interface RawPgConnection {
  query(sql: string, values?: unknown[]): Promise<unknown>;
}

/**
 * Several server processes may start together with MIGRATE_ON_START: on PostgreSQL a session
 * advisory lock, held on one dedicated pooled connection, lets one of them migrate while the
 * others wait and then find nothing pending. SQLite is one process's file, no lock needed.
 * Needs a pool of at least two connections.
 */
async function withMigrationLock<T>(sequelize: Sequelize, work: () => Promise<T>): Promise<T> {
  if (sequelize.getDialect() !== 'postgres') return work();
  const manager = sequelize.connectionManager;
  const connection = await manager.getConnection({ type: 'write' });
  const raw = connection as unknown as RawPgConnection;
  try {
    await raw.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      return await work();
    } finally {
      await raw.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    manager.releaseConnection(connection);
  }
}
