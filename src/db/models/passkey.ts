import { DataTypes, Model } from 'sequelize';
import type { CreationOptional, InferAttributes, InferCreationAttributes, Sequelize } from 'sequelize';

export class Passkey extends Model<InferAttributes<Passkey>, InferCreationAttributes<Passkey>> {
  declare id: CreationOptional<string>;
  declare userId: string;
  declare name: string;
  /** base64url credential id. */
  declare credentialId: string;
  /** The COSE public key, base64url, sealed (services/mfa/secrets.ts). */
  declare publicKeySealed: string;
  declare signCount: CreationOptional<number>;
  declare transports: CreationOptional<string[] | null>;
  declare createdAt: CreationOptional<Date>;
  declare lastUsedAt: CreationOptional<Date | null>;
}

export function definePasskey(sequelize: Sequelize): typeof Passkey {
  const Bound = class extends Passkey {};
  Bound.init(
    {
      id: { type: DataTypes.UUID, primaryKey: true, allowNull: false, defaultValue: DataTypes.UUIDV4 },
      userId: { type: DataTypes.UUID, allowNull: false },
      name: { type: DataTypes.STRING(100), allowNull: false },
      credentialId: { type: DataTypes.STRING(1400), allowNull: false, unique: true },
      publicKeySealed: { type: DataTypes.TEXT, allowNull: false },
      signCount: {
        type: DataTypes.BIGINT,
        allowNull: false,
        defaultValue: 0,
        get(this: Passkey) {
          return Number(this.getDataValue('signCount') ?? 0);
        },
      },
      transports: { type: DataTypes.JSON, allowNull: true },
      lastUsedAt: { type: DataTypes.DATE, allowNull: true },
      createdAt: DataTypes.DATE,
    },
    { sequelize, modelName: 'Passkey', tableName: 'passkeys', underscored: true, updatedAt: false },
  );
  return Bound;
}
