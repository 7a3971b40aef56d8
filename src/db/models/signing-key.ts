import { DataTypes, Model } from 'sequelize';
import type { CreationOptional, InferAttributes, InferCreationAttributes, Sequelize } from 'sequelize';

export const SIGNING_ALGS = ['ES256', 'RS256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

export class SigningKey extends Model<InferAttributes<SigningKey>, InferCreationAttributes<SigningKey>> {
  declare kid: string;
  declare alg: SigningAlg;
  /** The private JWK as JSON text. */
  declare privateJwk: string;
  declare createdAt: CreationOptional<Date>;
  declare supersededAt: CreationOptional<Date | null>;
}

export function defineSigningKey(sequelize: Sequelize): typeof SigningKey {
  const Bound = class extends SigningKey {};
  Bound.init(
    {
      kid: { type: DataTypes.STRING(128), primaryKey: true, allowNull: false },
      alg: { type: DataTypes.STRING(16), allowNull: false, validate: { isIn: [[...SIGNING_ALGS]] } },
      privateJwk: { type: DataTypes.TEXT, allowNull: false },
      supersededAt: { type: DataTypes.DATE, allowNull: true },
      // Set by Sequelize (timestamps); declared so the attribute types are complete.
      createdAt: DataTypes.DATE,
    },
    { sequelize, modelName: 'SigningKey', tableName: 'signing_keys', underscored: true, updatedAt: false },
  );
  return Bound;
}
