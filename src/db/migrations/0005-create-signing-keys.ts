import { DataTypes } from 'sequelize';
import type { QueryInterface } from 'sequelize';

export async function up(queryInterface: QueryInterface): Promise<void> {
  await queryInterface.createTable('signing_keys', {
    kid: { type: DataTypes.STRING(128), primaryKey: true, allowNull: false },
    alg: { type: DataTypes.STRING(16), allowNull: false },
    // The private JWK as JSON text (kty, key material, kid, alg, use).
    private_jwk: { type: DataTypes.TEXT, allowNull: false },
    created_at: { type: DataTypes.DATE, allowNull: false },
    superseded_at: { type: DataTypes.DATE, allowNull: true },
  });
  await queryInterface.addIndex('signing_keys', ['alg', 'created_at'], { name: 'signing_keys_alg_created_at' });
}

export async function down(queryInterface: QueryInterface): Promise<void> {
  await queryInterface.dropTable('signing_keys');
}
