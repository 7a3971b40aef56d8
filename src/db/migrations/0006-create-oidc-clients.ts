import { DataTypes } from 'sequelize';
import type { QueryInterface } from 'sequelize';

export async function up(queryInterface: QueryInterface): Promise<void> {
  await queryInterface.createTable('oidc_clients', {
    client_id: { type: DataTypes.STRING(255), primaryKey: true, allowNull: false },
    // oidc-provider client metadata (redirect_uris, grant_types, …) without the secret.
    metadata: { type: DataTypes.JSON, allowNull: false },
    // Never the plain secret: public clients have none.
    secret_hash: { type: DataTypes.TEXT, allowNull: true },
    first_party: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    created_at: { type: DataTypes.DATE, allowNull: false },
    updated_at: { type: DataTypes.DATE, allowNull: false },
  });
}

export async function down(queryInterface: QueryInterface): Promise<void> {
  await queryInterface.dropTable('oidc_clients');
}
