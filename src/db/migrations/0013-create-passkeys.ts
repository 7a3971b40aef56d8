import { DataTypes } from 'sequelize';
import type { QueryInterface } from 'sequelize';

/** WebAuthn credentials (CONTRACT §9): several per user, each named; the credential id is unique everywhere. */
export async function up(queryInterface: QueryInterface): Promise<void> {
  await queryInterface.createTable('passkeys', {
    id: { type: DataTypes.UUID, primaryKey: true, allowNull: false },
    user_id: {
      type: DataTypes.UUID,
      allowNull: false,
      references: { model: 'users', key: 'id' },
      onDelete: 'CASCADE',
      onUpdate: 'CASCADE',
    },
    name: { type: DataTypes.STRING(100), allowNull: false },
    // base64url, as the browser reports it.
    credential_id: { type: DataTypes.STRING(1400), allowNull: false, unique: true },
    public_key_sealed: { type: DataTypes.TEXT, allowNull: false },
    sign_count: { type: DataTypes.BIGINT, allowNull: false, defaultValue: 0 },
    transports: { type: DataTypes.JSON, allowNull: true },
    created_at: { type: DataTypes.DATE, allowNull: false },
    last_used_at: { type: DataTypes.DATE, allowNull: true },
  });
  await queryInterface.addIndex('passkeys', ['user_id'], { name: 'passkeys_user_id' });
}

export async function down(queryInterface: QueryInterface): Promise<void> {
  await queryInterface.dropTable('passkeys');
}
