import { DataTypes, Model } from 'sequelize';
import type { CreationOptional, InferAttributes, InferCreationAttributes, Sequelize } from 'sequelize';

export class TotpFactor extends Model<InferAttributes<TotpFactor>, InferCreationAttributes<TotpFactor>> {
  declare userId: string;
  /** The base32 secret, sealed (services/mfa/secrets.ts). */
  declare secretSealed: string;
  declare confirmedAt: CreationOptional<Date | null>;
  /** The RFC 6238 time step of the last code accepted: that step and older ones are refused. */
  declare lastUsedStep: CreationOptional<number | null>;
  declare lastUsedAt: CreationOptional<Date | null>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export function defineTotpFactor(sequelize: Sequelize): typeof TotpFactor {
  const Bound = class extends TotpFactor {};
  Bound.init(
    {
      userId: { type: DataTypes.UUID, primaryKey: true, allowNull: false },
      secretSealed: { type: DataTypes.TEXT, allowNull: false },
      confirmedAt: { type: DataTypes.DATE, allowNull: true },
      // pg returns BIGINT as text: read back as a number (steps are far below 2^53).
      lastUsedStep: {
        type: DataTypes.BIGINT,
        allowNull: true,
        get(this: TotpFactor) {
          const value = this.getDataValue('lastUsedStep') as number | string | null;
          return value === null || value === undefined ? null : Number(value);
        },
      },
      lastUsedAt: { type: DataTypes.DATE, allowNull: true },
      createdAt: DataTypes.DATE,
      updatedAt: DataTypes.DATE,
    },
    { sequelize, modelName: 'TotpFactor', tableName: 'totp_factors', underscored: true },
  );
  return Bound;
}
