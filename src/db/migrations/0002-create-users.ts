import { DataTypes } from 'sequelize';
import type { QueryInterface } from 'sequelize';

export async function up(queryInterface: QueryInterface): Promise<void> {
  await queryInterface.createTable('users', {
    // SQLite only auto-increments an INTEGER PRIMARY KEY, so the sequential number is the key
    // and the public UUID is a unique column that every foreign key references.
    number: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true, allowNull: false },
    id: { type: DataTypes.UUID, allowNull: false },
    username: { type: DataTypes.STRING(255), allowNull: true },
    // lower-cased username: a plain unique index makes uniqueness and login look-ups
    // case-insensitive the same way on PostgreSQL and SQLite.
    username_normalized: { type: DataTypes.STRING(255), allowNull: true },
    email: { type: DataTypes.STRING(320), allowNull: false },
    password_hash: { type: DataTypes.TEXT, allowNull: false },
    full_name: { type: DataTypes.STRING(255), allowNull: true },
    phone: { type: DataTypes.STRING(64), allowNull: true },
    status: { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'active' },
    email_verified: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    onboarding_completed: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    onboarding_step: { type: DataTypes.INTEGER, allowNull: true },
    onboarding_data: { type: DataTypes.JSON, allowNull: true },
    organization_id: {
      type: DataTypes.UUID,
      allowNull: true,
      references: { model: 'organizations', key: 'id' },
      onDelete: 'SET NULL',
      onUpdate: 'CASCADE',
    },
    created_at: { type: DataTypes.DATE, allowNull: false },
    updated_at: { type: DataTypes.DATE, allowNull: false },
  });
  await queryInterface.addIndex('users', ['id'], { name: 'users_id_unique', unique: true });
  await queryInterface.addIndex('users', ['email'], { name: 'users_email_unique', unique: true });
  await queryInterface.addIndex('users', ['username_normalized'], { name: 'users_username_normalized_unique', unique: true });
  await queryInterface.addIndex('users', ['organization_id'], { name: 'users_organization_id' });
}

export async function down(queryInterface: QueryInterface): Promise<void> {
  await queryInterface.dropTable('users');
}
