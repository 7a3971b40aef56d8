import { UniqueConstraintError } from 'sequelize';
import type { Models, Role } from '../db/models/index.ts';

/**
 * Role look-ups and grants shared by the bootstrap, the CLI and the admin API. `adminRole` (ADMIN_ROLE) is
 * the one role that grants the admin API and console; every other name is an application role.
 */
export function createRoleService(options: { models: Pick<Models, 'Role' | 'User'>; adminRole: string }) {
  const { Role, User } = options.models;
  const { adminRole } = options;

  /** The role with this name, created on first use; safe when two processes race to create it. */
  async function ensureRole(name: string, description: string | null = null): Promise<Role> {
    const existing = await Role.findOne({ where: { name } });
    if (existing) return existing;
    try {
      return await Role.create({ name, description });
    } catch (err) {
      if (!(err instanceof UniqueConstraintError)) throw err;
      const raced = await Role.findOne({ where: { name } });
      if (!raced) throw err;
      return raced;
    }
  }

  async function grant(userId: string, roleName: string): Promise<void> {
    const role = await ensureRole(roleName, roleName === adminRole ? 'Full access to the admin API and console of the identity provider' : null);
    const user = await User.findByPk(userId);
    if (!user) throw new Error(`no user ${userId}`);
    if (!(await user.hasRole(role))) await user.addRole(role);
  }

  return { adminRole, ensureRole, grant };
}

export type RoleService = ReturnType<typeof createRoleService>;
