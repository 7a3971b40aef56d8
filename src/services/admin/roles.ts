/** Roles as admins manage them: list (with how many users hold each), create, delete. */
import { UniqueConstraintError, fn, col } from 'sequelize';
import type { Models, Role } from '../../db/models/index.ts';
import { isUuid } from '../../db/uuid.ts';
import { ConflictError, NotFoundError } from '../../errors.ts';
import { compareRoleNames } from '../accounts/view.ts';
import type { AdminAuditService, AdminContext, Page } from './audit.ts';

export interface RoleAdminView {
  id: string;
  name: string;
  description: string | null;
  user_count: number;
  created_at: Date;
}

export class RoleNotFoundError extends NotFoundError {
  constructor() {
    super('Role not found', 'ROLE_NOT_FOUND');
  }
}

/** `adminRole` (ADMIN_ROLE) grants the admin API: deleting it would lock every admin out. */
export function createAdminRoleService(options: { models: Pick<Models, 'Role' | 'UserRole'>; adminAudit: Pick<AdminAuditService, 'record'>; adminRole: string }) {
  const { Role, UserRole } = options.models;

  function toView(role: Role, userCount: number): RoleAdminView {
    return { id: role.id, name: role.name, description: role.description ?? null, user_count: userCount, created_at: role.createdAt };
  }

  return {
    adminRole: options.adminRole,

    /** Every role, `admin` first, then by name (there are few: no pagination). */
    async list(): Promise<Page<RoleAdminView>> {
      const [roles, counts] = await Promise.all([
        Role.findAll(),
        UserRole.findAll({ attributes: ['roleId', [fn('count', col('user_id')), 'users']], group: [col('role_id')], raw: true }) as unknown as Promise<
          { roleId: string; users: number | string }[]
        >,
      ]);
      const byRole = new Map(counts.map((row) => [row.roleId, Number(row.users)]));
      const items = roles.sort((a, b) => compareRoleNames(a.name, b.name)).map((role) => toView(role, byRole.get(role.id) ?? 0));
      return { items, total: items.length };
    },

    async create(input: { name: string; description?: string | null }, ctx: AdminContext): Promise<RoleAdminView> {
      let role: Role;
      try {
        role = await Role.create({ name: input.name, description: input.description ?? null });
      } catch (err) {
        if (err instanceof UniqueConstraintError) throw new ConflictError('Role already exists', 'ROLE_EXISTS');
        throw err;
      }
      await options.adminAudit.record('role_create', ctx, { detail: { role: role.name } });
      return toView(role, 0);
    },

    /** Removes the role from every user who has it (the link rows cascade). */
    async delete(id: string, ctx: AdminContext): Promise<void> {
      const role = isUuid(id) ? await Role.findByPk(id) : null;
      if (!role) throw new RoleNotFoundError();
      if (role.name === options.adminRole) throw new ConflictError(`The ${options.adminRole} role cannot be deleted: it grants the admin API`, 'ROLE_PROTECTED');
      await Role.destroy({ where: { id: role.id } });
      await options.adminAudit.record('role_delete', ctx, { detail: { role: role.name } });
    },
  };
}

export type AdminRoleService = ReturnType<typeof createAdminRoleService>;
