import { DataTypes } from 'sequelize';
import type { QueryInterface } from 'sequelize';

/** RFC 8707 resource servers registered through the admin API (besides OIDC_RESOURCES). */
export async function up(queryInterface: QueryInterface): Promise<void> {
  await queryInterface.createTable('resources', {
    id: { type: DataTypes.UUID, primaryKey: true, allowNull: false },
    indicator: { type: DataTypes.STRING(2000), allowNull: false },
    // Space-separated scopes the resource defines.
    scope: { type: DataTypes.TEXT, allowNull: false },
    // Seconds; null: ACCESS_TOKEN_TTL.
    access_token_ttl: { type: DataTypes.INTEGER, allowNull: true },
    // The confidential client that runs the resource (it may exchange tokens minted for it).
    server_client_id: { type: DataTypes.STRING(255), allowNull: true },
    created_at: { type: DataTypes.DATE, allowNull: false },
    updated_at: { type: DataTypes.DATE, allowNull: false },
  });
  await queryInterface.addIndex('resources', ['indicator'], { name: 'resources_indicator_unique', unique: true });
}

export async function down(queryInterface: QueryInterface): Promise<void> {
  await queryInterface.dropTable('resources');
}
