import { DataTypes, Model } from 'sequelize';
import type {
  BelongsToManyAddAssociationMixin,
  BelongsToManyGetAssociationsMixin,
  BelongsToManyHasAssociationMixin,
  BelongsToManyRemoveAssociationMixin,
  BelongsToManySetAssociationsMixin,
  CreationOptional,
  InferAttributes,
  InferCreationAttributes,
  NonAttribute,
  Sequelize,
} from 'sequelize';
import type { Membership } from './membership.ts';
import type { Organization } from './organization.ts';
import type { Role } from './role.ts';
import type { JsonObject } from '../../json.ts';

export type { JsonObject };

export const USER_STATUSES = ['active', 'inactive', 'suspended'] as const;
export type UserStatus = (typeof USER_STATUSES)[number];

/** E-mail addresses are stored and compared lower-case. */
export function normalizeEmail(email: string): string {
  return email.toLowerCase();
}

/** The spelling a username keeps: Unicode NFKC (look-alike forms fold to their plain letters), trimmed. */
export function cleanUsername(username: string): string {
  return username.normalize('NFKC').trim();
}

/** Usernames keep their spelling in `username`; uniqueness and look-ups use this case-folded form. */
export function normalizeUsername(username: string): string {
  return cleanUsername(username).toLowerCase().normalize('NFKC');
}

/**
 * The database's primary key is `number` (SQLite only auto-increments an INTEGER PRIMARY KEY),
 * but the model treats the public UUID `id` (unique, NOT NULL) as its key, so findByPk(uuid),
 * save() and associations all work on `id`; `number` is filled in by the database on insert.
 */
export class User extends Model<InferAttributes<User>, InferCreationAttributes<User>> {
  declare id: CreationOptional<string>;
  declare number: CreationOptional<number>;
  declare username: CreationOptional<string | null>;
  declare usernameNormalized: CreationOptional<string | null>;
  declare email: string;
  declare passwordHash: string;
  declare fullName: CreationOptional<string | null>;
  declare phone: CreationOptional<string | null>;
  declare status: CreationOptional<UserStatus>;
  declare emailVerified: CreationOptional<boolean>;
  declare onboardingCompleted: CreationOptional<boolean>;
  declare onboardingStep: CreationOptional<number | null>;
  declare onboardingData: CreationOptional<JsonObject | null>;
  declare organizationId: CreationOptional<string | null>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;

  declare roles?: NonAttribute<Role[]>;
  declare organization?: NonAttribute<Organization | null>;
  declare memberships?: NonAttribute<Membership[]>;
  declare organizations?: NonAttribute<Organization[]>;

  declare getRoles: BelongsToManyGetAssociationsMixin<Role>;
  declare setRoles: BelongsToManySetAssociationsMixin<Role, string>;
  declare addRole: BelongsToManyAddAssociationMixin<Role, string>;
  declare removeRole: BelongsToManyRemoveAssociationMixin<Role, string>;
  declare hasRole: BelongsToManyHasAssociationMixin<Role, string>;
}

export function defineUser(sequelize: Sequelize): typeof User {
  // A subclass per Sequelize instance, so several databases can be open in one process.
  const Bound = class extends User {};
  Bound.init(
    {
      id: { type: DataTypes.UUID, primaryKey: true, allowNull: false, defaultValue: DataTypes.UUIDV4 },
      number: { type: DataTypes.INTEGER, autoIncrement: true, allowNull: false },
      username: {
        type: DataTypes.STRING(255),
        allowNull: true,
        // Setters also run for static User.update() (Sequelize's sideEffects), so the two never drift.
        set(value: string | null) {
          this.setDataValue('username', value === null ? null : cleanUsername(value));
          this.setDataValue('usernameNormalized', value === null ? null : normalizeUsername(value));
        },
      },
      usernameNormalized: { type: DataTypes.STRING(255), allowNull: true },
      email: {
        type: DataTypes.STRING(320),
        allowNull: false,
        set(value: string) {
          this.setDataValue('email', normalizeEmail(value));
        },
      },
      passwordHash: { type: DataTypes.TEXT, allowNull: false },
      fullName: { type: DataTypes.STRING(255), allowNull: true },
      phone: { type: DataTypes.STRING(64), allowNull: true },
      status: {
        type: DataTypes.STRING(16),
        allowNull: false,
        defaultValue: 'active',
        validate: { isIn: [[...USER_STATUSES]] },
      },
      emailVerified: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
      onboardingCompleted: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
      onboardingStep: { type: DataTypes.INTEGER, allowNull: true },
      onboardingData: { type: DataTypes.JSON, allowNull: true },
      organizationId: { type: DataTypes.UUID, allowNull: true },
      // Set by Sequelize (timestamps); declared so the attribute types are complete.
      createdAt: DataTypes.DATE,
      updatedAt: DataTypes.DATE,
    },
    {
      sequelize,
      modelName: 'User',
      tableName: 'users',
      underscored: true,
    },
  );
  return Bound;
}
