import { DataTypes } from 'sequelize';
import type { QueryInterface } from 'sequelize';

/** One authenticator app per user (CONTRACT §9): the secret sealed at rest, the last time step used (replay). */
export async function up(queryInterface: QueryInterface): Promise<void> {
  await queryInterface.createTable('totp_factors', {
    user_id: {
      type: DataTypes.UUID,
      primaryKey: true,
      allowNull: false,
      references: { model: 'users', key: 'id' },
      onDelete: 'CASCADE',
      onUpdate: 'CASCADE',
    },
    secret_sealed: { type: DataTypes.TEXT, allowNull: false },
    // Null until the user proves the app works with a first code.
    confirmed_at: { type: DataTypes.DATE, allowNull: true },
    last_used_step: { type: DataTypes.BIGINT, allowNull: true },
    last_used_at: { type: DataTypes.DATE, allowNull: true },
    created_at: { type: DataTypes.DATE, allowNull: false },
    updated_at: { type: DataTypes.DATE, allowNull: false },
  });
}

export async function down(queryInterface: QueryInterface): Promise<void> {
  await queryInterface.dropTable('totp_factors');
}
