import { DataTypes, Model } from 'sequelize';
import type { CreationOptional, InferAttributes, InferCreationAttributes, Sequelize } from 'sequelize';

export class UserRole extends Model<InferAttributes<UserRole>, InferCreationAttributes<UserRole>> {
  declare userId: string;
  declare roleId: string;
  declare createdAt: CreationOptional<Date>;
}

export function defineUserRole(sequelize: Sequelize): typeof UserRole {
  const Bound = class extends UserRole {};
  Bound.init(
    {
      userId: { type: DataTypes.UUID, primaryKey: true, allowNull: false },
      roleId: { type: DataTypes.UUID, primaryKey: true, allowNull: false },
      // Set by Sequelize (timestamps); declared so the attribute types are complete.
      createdAt: DataTypes.DATE,
    },
    { sequelize, modelName: 'UserRole', tableName: 'user_roles', underscored: true, updatedAt: false },
  );
  return Bound;
}
