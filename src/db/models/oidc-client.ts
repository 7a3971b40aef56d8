import { DataTypes, Model } from 'sequelize';
import type { CreationOptional, InferAttributes, InferCreationAttributes, Sequelize } from 'sequelize';
import type { JsonObject } from './user.ts';

export class OidcClient extends Model<InferAttributes<OidcClient>, InferCreationAttributes<OidcClient>> {
  declare clientId: string;
  /** oidc-provider client metadata, without the secret. */
  declare metadata: JsonObject;
  /** Stored secret material (a hash, never the plain secret); null for public clients. */
  declare secretHash: CreationOptional<string | null>;
  declare firstParty: CreationOptional<boolean>;
  /** `admin` (the admin API) or `dynamic` (dynamic client registration). */
  declare source: CreationOptional<'admin' | 'dynamic'>;
  /** The last token request (kept for dynamic clients, which are removed after 30 days without one). */
  declare lastUsedAt: CreationOptional<Date | null>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export function defineOidcClient(sequelize: Sequelize): typeof OidcClient {
  const Bound = class extends OidcClient {};
  Bound.init(
    {
      clientId: { type: DataTypes.STRING(255), primaryKey: true, allowNull: false },
      metadata: { type: DataTypes.JSON, allowNull: false },
      secretHash: { type: DataTypes.TEXT, allowNull: true },
      firstParty: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
      source: { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'admin' },
      lastUsedAt: { type: DataTypes.DATE, allowNull: true },
      // Set by Sequelize (timestamps); declared so the attribute types are complete.
      createdAt: DataTypes.DATE,
      updatedAt: DataTypes.DATE,
    },
    { sequelize, modelName: 'OidcClient', tableName: 'oidc_clients', underscored: true },
  );
  return Bound;
}
