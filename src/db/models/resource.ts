import { DataTypes, Model } from 'sequelize';
import type { CreationOptional, InferAttributes, InferCreationAttributes, Sequelize } from 'sequelize';

export class Resource extends Model<InferAttributes<Resource>, InferCreationAttributes<Resource>> {
  declare id: CreationOptional<string>;
  /** The RFC 8707 resource indicator (an absolute URI), also the access tokens' audience. */
  declare indicator: string;
  /** Space-separated scopes the resource defines. */
  declare scope: string;
  declare accessTokenTtl: CreationOptional<number | null>;
  declare serverClientId: CreationOptional<string | null>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export function defineResource(sequelize: Sequelize): typeof Resource {
  const Bound = class extends Resource {};
  Bound.init(
    {
      id: { type: DataTypes.UUID, primaryKey: true, allowNull: false, defaultValue: DataTypes.UUIDV4 },
      indicator: { type: DataTypes.STRING(2000), allowNull: false },
      scope: { type: DataTypes.TEXT, allowNull: false },
      accessTokenTtl: { type: DataTypes.INTEGER, allowNull: true },
      serverClientId: { type: DataTypes.STRING(255), allowNull: true },
      // Set by Sequelize (timestamps); declared so the attribute types are complete.
      createdAt: DataTypes.DATE,
      updatedAt: DataTypes.DATE,
    },
    { sequelize, modelName: 'Resource', tableName: 'resources', underscored: true },
  );
  return Bound;
}
