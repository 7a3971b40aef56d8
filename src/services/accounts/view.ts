import type { JsonObject, Role, User, UserStatus } from '../../db/models/index.ts';

export interface RoleView {
  id: string;
  name: string;
  description: string | null;
}

/** A user as every door sees it (CONTRACT §2), with its roles; never the password hash. */
export interface AccountView {
  id: string;
  number: number;
  username: string | null;
  email: string;
  full_name: string | null;
  phone: string | null;
  status: UserStatus;
  email_verified: boolean;
  onboarding_completed: boolean;
  onboarding_step: number | null;
  onboarding_data: JsonObject | null;
  organization_id: string | null;
  created_at: Date;
  updated_at: Date;
  /** Role names, `admin` first, then by name. */
  roles: string[];
  /** The same roles with their ids and descriptions, same order. */
  role_details: RoleView[];
}

/** `admin` first (it is what most clients look for), then alphabetical: the order every door shows. */
export function compareRoleNames(a: string, b: string): number {
  if (a === b) return 0;
  if (a === 'admin') return -1;
  if (b === 'admin') return 1;
  return a < b ? -1 : 1;
}

/** The user fields a view is made of: a model instance, or a plain row read without building one. */
export type AccountFields = Pick<
  User,
  | 'id' | 'number' | 'username' | 'email' | 'fullName' | 'phone' | 'status' | 'emailVerified' | 'onboardingCompleted'
  | 'onboardingStep' | 'onboardingData' | 'organizationId' | 'createdAt' | 'updatedAt'
>;

export function toAccountView(user: AccountFields, roles: readonly Pick<Role, 'id' | 'name' | 'description'>[]): AccountView {
  const details = roles
    .map((role) => ({ id: role.id, name: role.name, description: role.description ?? null }))
    .sort((a, b) => compareRoleNames(a.name, b.name));
  return {
    id: user.id,
    number: user.number,
    username: user.username ?? null,
    email: user.email,
    full_name: user.fullName ?? null,
    phone: user.phone ?? null,
    status: user.status,
    email_verified: Boolean(user.emailVerified),
    onboarding_completed: Boolean(user.onboardingCompleted),
    onboarding_step: user.onboardingStep ?? null,
    onboarding_data: user.onboardingData ?? null,
    organization_id: user.organizationId ?? null,
    created_at: user.createdAt,
    updated_at: user.updatedAt,
    roles: details.map((role) => role.name),
    role_details: details,
  };
}
