import type { Sequelize } from 'sequelize';
import { defineAuditEvent } from './audit-event.ts';
import { defineMembership } from './membership.ts';
import { defineOidcClient } from './oidc-client.ts';
import { defineOrganization } from './organization.ts';
import { defineResource } from './resource.ts';
import { defineRole } from './role.ts';
import { defineSigningKey } from './signing-key.ts';
import { defineUserRole } from './user-role.ts';
import { defineUser } from './user.ts';
import { defineTotpFactor } from './totp-factor.ts';
import { defineRecoveryCode } from './recovery-code.ts';
import { definePasskey } from './passkey.ts';

export type { AuditEvent } from './audit-event.ts';
export { MEMBERSHIP_ROLES } from './membership.ts';
export type { Membership, MembershipRole } from './membership.ts';
export type { OidcClient } from './oidc-client.ts';
export type { Organization } from './organization.ts';
export type { Resource } from './resource.ts';
export type { Role } from './role.ts';
export { SIGNING_ALGS } from './signing-key.ts';
export type { SigningAlg, SigningKey } from './signing-key.ts';
export type { UserRole } from './user-role.ts';
export type { TotpFactor } from './totp-factor.ts';
export type { RecoveryCode } from './recovery-code.ts';
export type { Passkey } from './passkey.ts';
export { USER_STATUSES, normalizeEmail, normalizeUsername } from './user.ts';
export type { JsonObject, User, UserStatus } from './user.ts';

/** Defines every model on `sequelize` (fresh classes per call) and wires the associations. */
export function initModels(sequelize: Sequelize) {
  const User = defineUser(sequelize);
  const Role = defineRole(sequelize);
  const UserRole = defineUserRole(sequelize);
  const Organization = defineOrganization(sequelize);
  const Membership = defineMembership(sequelize);
  const SigningKey = defineSigningKey(sequelize);
  const OidcClient = defineOidcClient(sequelize);
  const AuditEvent = defineAuditEvent(sequelize);
  const Resource = defineResource(sequelize);
  const TotpFactor = defineTotpFactor(sequelize);
  const RecoveryCode = defineRecoveryCode(sequelize);
  const Passkey = definePasskey(sequelize);

  User.belongsToMany(Role, { through: UserRole, foreignKey: 'userId', otherKey: 'roleId', as: 'roles' });
  Role.belongsToMany(User, { through: UserRole, foreignKey: 'roleId', otherKey: 'userId', as: 'users' });

  // The primary organization; the row survives the organization's deletion (SET NULL).
  User.belongsTo(Organization, { foreignKey: 'organizationId', as: 'organization', onDelete: 'SET NULL' });

  User.hasMany(Membership, { foreignKey: 'userId', as: 'memberships', onDelete: 'CASCADE' });
  Organization.hasMany(Membership, { foreignKey: 'organizationId', as: 'memberships', onDelete: 'CASCADE' });
  Membership.belongsTo(User, { foreignKey: 'userId', as: 'user' });
  Membership.belongsTo(Organization, { foreignKey: 'organizationId', as: 'organization' });
  User.belongsToMany(Organization, { through: Membership, foreignKey: 'userId', otherKey: 'organizationId', as: 'organizations' });
  Organization.belongsToMany(User, { through: Membership, foreignKey: 'organizationId', otherKey: 'userId', as: 'members' });

  return { User, Role, UserRole, Organization, Membership, SigningKey, OidcClient, AuditEvent, Resource, TotpFactor, RecoveryCode, Passkey };
}

export type Models = ReturnType<typeof initModels>;
