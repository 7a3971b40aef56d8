import { DataTypes } from 'sequelize';
import type { QueryInterface } from 'sequelize';

/**
 * Where a database client came from (`admin` or `dynamic` registration, CONTRACT §7, §11) and when it last
 * asked for a token: dynamic clients are removed after 30 days without one.
 */
export async function up(queryInterface: QueryInterface): Promise<void> {
  await queryInterface.addColumn('oidc_clients', 'source', { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'admin' });
  await queryInterface.addColumn('oidc_clients', 'last_used_at', { type: DataTypes.DATE, allowNull: true });
  await queryInterface.addIndex('oidc_clients', ['source', 'last_used_at'], { name: 'oidc_clients_source_last_used' });
}

export async function down(queryInterface: QueryInterface): Promise<void> {
  await queryInterface.removeIndex('oidc_clients', 'oidc_clients_source_last_used');
  await queryInterface.removeColumn('oidc_clients', 'last_used_at');
  await queryInterface.removeColumn('oidc_clients', 'source');
}
