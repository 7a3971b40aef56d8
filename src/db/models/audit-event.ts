import { DataTypes, Model } from 'sequelize';
import type { CreationOptional, InferAttributes, InferCreationAttributes, Sequelize } from 'sequelize';
import type { JsonObject } from './user.ts';

export class AuditEvent extends Model<InferAttributes<AuditEvent>, InferCreationAttributes<AuditEvent>> {
  declare id: CreationOptional<string>;
  /** e.g. `login`, `logout`, `refresh_reuse`, `password_change`, `admin.user_update`. */
  declare type: string;
  /** e.g. `success` | `failure`. */
  declare outcome: string;
  declare userId: CreationOptional<string | null>;
  declare ip: CreationOptional<string | null>;
  declare userAgent: CreationOptional<string | null>;
  declare clientId: CreationOptional<string | null>;
  declare detail: CreationOptional<JsonObject | null>;
  declare createdAt: CreationOptional<Date>;
}

export function defineAuditEvent(sequelize: Sequelize): typeof AuditEvent {
  const Bound = class extends AuditEvent {};
  Bound.init(
    {
      id: { type: DataTypes.UUID, primaryKey: true, allowNull: false, defaultValue: DataTypes.UUIDV4 },
      type: { type: DataTypes.STRING(64), allowNull: false },
      outcome: { type: DataTypes.STRING(16), allowNull: false },
      userId: { type: DataTypes.UUID, allowNull: true },
      ip: { type: DataTypes.STRING(64), allowNull: true },
      userAgent: { type: DataTypes.TEXT, allowNull: true },
      clientId: { type: DataTypes.STRING(255), allowNull: true },
      detail: { type: DataTypes.JSON, allowNull: true },
      // Set by Sequelize (timestamps); declared so the attribute types are complete.
      createdAt: DataTypes.DATE,
    },
    { sequelize, modelName: 'AuditEvent', tableName: 'audit_events', underscored: true, updatedAt: false },
  );
  return Bound;
}
