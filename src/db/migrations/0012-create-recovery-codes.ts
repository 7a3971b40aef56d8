import { DataTypes } from 'sequelize';
import type { QueryInterface } from 'sequelize';

/** Single-use recovery codes, only their SHA-256 kept (CONTRACT §9). */
export async function up(queryInterface: QueryInterface): Promise<void> {
  await queryInterface.createTable('recovery_codes', {
    id: { type: DataTypes.UUID, primaryKey: true, allowNull: false },
    user_id: {
      type: DataTypes.UUID,
      allowNull: false,
      references: { model: 'users', key: 'id' },
      onDelete: 'CASCADE',
      onUpdate: 'CASCADE',
    },
    code_hash: { type: DataTypes.STRING(64), allowNull: false },
    used_at: { type: DataTypes.DATE, allowNull: true },
    created_at: { type: DataTypes.DATE, allowNull: false },
  });
  await queryInterface.addIndex('recovery_codes', ['user_id', 'code_hash'], { name: 'recovery_codes_user_id_code_hash', unique: true });
}

export async function down(queryInterface: QueryInterface): Promise<void> {
  await queryInterface.dropTable('recovery_codes');
}
