import { DataTypes } from 'sequelize';
import type { QueryInterface } from 'sequelize';

export async function up(queryInterface: QueryInterface): Promise<void> {
  await queryInterface.createTable('audit_events', {
    id: { type: DataTypes.UUID, primaryKey: true, allowNull: false },
    type: { type: DataTypes.STRING(64), allowNull: false },
    outcome: { type: DataTypes.STRING(16), allowNull: false },
    // No foreign key: the audit trail outlives the users it mentions.
    user_id: { type: DataTypes.UUID, allowNull: true },
    ip: { type: DataTypes.STRING(64), allowNull: true },
    user_agent: { type: DataTypes.TEXT, allowNull: true },
    client_id: { type: DataTypes.STRING(255), allowNull: true },
    detail: { type: DataTypes.JSON, allowNull: true },
    created_at: { type: DataTypes.DATE, allowNull: false },
  });
  await queryInterface.addIndex('audit_events', ['user_id', 'created_at'], { name: 'audit_events_user_id_created_at' });
  await queryInterface.addIndex('audit_events', ['type', 'created_at'], { name: 'audit_events_type_created_at' });
  await queryInterface.addIndex('audit_events', ['created_at'], { name: 'audit_events_created_at' });
}

export async function down(queryInterface: QueryInterface): Promise<void> {
  await queryInterface.dropTable('audit_events');
}
