import { DataTypes, Model } from 'sequelize';
import type { CreationOptional, InferAttributes, InferCreationAttributes, NonAttribute, Sequelize } from 'sequelize';
import type { Organization } from './organization.ts';
import type { User } from './user.ts';

export const MEMBERSHIP_ROLES = ['owner', 'admin', 'member'] as const;
export type MembershipRole = (typeof MEMBERSHIP_ROLES)[number];

export class Membership extends Model<InferAttributes<Membership>, InferCreationAttributes<Membership>> {
  declare userId: string;
  declare organizationId: string;
  declare role: CreationOptional<MembershipRole>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;

  declare user?: NonAttribute<User>;
  declare organization?: NonAttribute<Organization>;
}

export function defineMembership(sequelize: Sequelize): typeof Membership {
  const Bound = class extends Membership {};
  Bound.init(
    {
      userId: { type: DataTypes.UUID, primaryKey: true, allowNull: false },
      organizationId: { type: DataTypes.UUID, primaryKey: true, allowNull: false },
      role: {
        type: DataTypes.STRING(16),
        allowNull: false,
        defaultValue: 'member',
        validate: { isIn: [[...MEMBERSHIP_ROLES]] },
      },
      // Set by Sequelize (timestamps); declared so the attribute types are complete.
      createdAt: DataTypes.DATE,
      updatedAt: DataTypes.DATE,
    },
    { sequelize, modelName: 'Membership', tableName: 'memberships', underscored: true },
  );
  return Bound;
}
