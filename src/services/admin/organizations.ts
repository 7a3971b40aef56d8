/** Organizations and memberships as admins manage them (CONTRACT §2, §7). */
import { randomBytes } from 'node:crypto';
import { Op, UniqueConstraintError, col, fn, where as sqlWhere } from 'sequelize';
import type { Sequelize, WhereOptions } from 'sequelize';
import type { MembershipRole, Models, Organization } from '../../db/models/index.ts';

/** The roles of a member in an organization (the model's), for the doors' schemas. */
export { MEMBERSHIP_ROLES } from '../../db/models/index.ts';
import { isUuid } from '../../db/uuid.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../errors.ts';
import type { AdminAuditService, AdminContext, Page } from './audit.ts';

export interface OrganizationView {
  id: string;
  name: string;
  slug: string;
  member_count: number;
  created_at: Date;
  updated_at: Date;
}

export interface MemberView {
  user_id: string;
  email: string;
  username: string | null;
  full_name: string | null;
  role: MembershipRole;
  created_at: Date;
}

export interface OrganizationDetail extends OrganizationView {
  members: MemberView[];
}

export interface MembershipView {
  organization_id: string;
  user_id: string;
  role: MembershipRole;
}

export class OrganizationNotFoundError extends NotFoundError {
  constructor() {
    super('Organization not found', 'ORGANIZATION_NOT_FOUND');
  }
}

const SLUG_ATTEMPTS = 3;

export function slugify(name: string): string {
  const slug = name.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 48);
  return slug || 'org';
}

export function createAdminOrganizationService(options: {
  models: Pick<Models, 'Organization' | 'Membership' | 'User'>;
  sequelize: Sequelize;
  adminAudit: Pick<AdminAuditService, 'record'>;
}) {
  const { Organization, Membership, User } = options.models;
  const position = options.sequelize.getDialect() === 'sqlite' ? 'instr' : 'strpos';

  async function memberCounts(ids: string[]): Promise<Map<string, number>> {
    if (ids.length === 0) return new Map();
    const rows = (await Membership.findAll({
      attributes: ['organizationId', [fn('count', col('user_id')), 'members']],
      where: { organizationId: ids },
      group: [col('organization_id')],
      raw: true,
    })) as unknown as { organizationId: string; members: number | string }[];
    return new Map(rows.map((row) => [row.organizationId, Number(row.members)]));
  }

  function toView(org: Organization, members: number): OrganizationView {
    return { id: org.id, name: org.name, slug: org.slug, member_count: members, created_at: org.createdAt, updated_at: org.updatedAt };
  }

  async function load(id: string): Promise<Organization> {
    const org = isUuid(id) ? await Organization.findByPk(id) : null;
    if (!org) throw new OrganizationNotFoundError();
    return org;
  }

  return {
    /** `q` matches name and slug (case-insensitive substring). */
    async list(search: { q?: string; limit: number; offset: number }): Promise<Page<OrganizationView>> {
      const needle = search.q?.trim().toLowerCase();
      const where: WhereOptions = needle
        ? { [Op.or]: [sqlWhere(fn(position, fn('lower', col('name')), needle), Op.gt, 0), sqlWhere(fn(position, col('slug'), needle), Op.gt, 0)] }
        : {};
      const { rows, count } = await Organization.findAndCountAll({ where, order: [['name', 'ASC'], ['id', 'ASC']], limit: search.limit, offset: search.offset });
      const counts = await memberCounts(rows.map((org) => org.id));
      return { items: rows.map((org) => toView(org, counts.get(org.id) ?? 0)), total: count };
    },

    async get(id: string): Promise<OrganizationDetail> {
      const org = await load(id);
      const memberships = await Membership.findAll({
        where: { organizationId: org.id },
        include: [{ model: User, as: 'user' }],
        order: [['createdAt', 'ASC']],
      });
      const members = memberships.flatMap((membership) =>
        membership.user
          ? [{
              user_id: membership.userId,
              email: membership.user.email,
              username: membership.user.username ?? null,
              full_name: membership.user.fullName ?? null,
              role: membership.role,
              created_at: membership.createdAt,
            }]
          : [],
      );
      return { ...toView(org, members.length), members };
    },

    /** A given slug must be free (409); without one it is made from the name, with a suffix if taken. */
    async create(input: { name: string; slug?: string }, ctx: AdminContext): Promise<OrganizationView> {
      for (let attempt = 1; ; attempt += 1) {
        const slug = input.slug ?? (attempt === 1 ? slugify(input.name) : `${slugify(input.name)}-${randomBytes(3).toString('hex')}`);
        try {
          const org = await Organization.create({ name: input.name, slug });
          await options.adminAudit.record('organization_create', ctx, { detail: { organization_id: org.id, slug } });
          return toView(org, 0);
        } catch (err) {
          if (!(err instanceof UniqueConstraintError)) throw err;
          if (input.slug) throw new ConflictError('Organization slug already taken', 'ORGANIZATION_SLUG_TAKEN');
          if (attempt >= SLUG_ATTEMPTS) throw err;
        }
      }
    },

    /** Adds the user to the organization with the role, or changes the role of an existing member. */
    async setMember(id: string, input: { userId: string; role: MembershipRole }, ctx: AdminContext): Promise<{ membership: MembershipView; created: boolean }> {
      const org = await load(id);
      const user = isUuid(input.userId) ? await User.findOne({ where: { id: input.userId } }) : null;
      if (!user) throw new ValidationError([{ loc: ['body', 'user_id'], msg: 'User not found', type: 'value_error' }]);
      const existing = await Membership.findOne({ where: { organizationId: org.id, userId: user.id } });
      let created = false;
      if (existing) {
        if (existing.role !== input.role) await Membership.update({ role: input.role }, { where: { organizationId: org.id, userId: user.id } });
      } else {
        try {
          await Membership.create({ organizationId: org.id, userId: user.id, role: input.role });
          created = true;
        } catch (err) {
          // Added by someone else meanwhile: set the role on that row instead.
          if (!(err instanceof UniqueConstraintError)) throw err;
          await Membership.update({ role: input.role }, { where: { organizationId: org.id, userId: user.id } });
        }
      }
      await options.adminAudit.record(created ? 'member_add' : 'member_update', ctx, {
        userId: user.id,
        detail: { organization_id: org.id, role: input.role, ...(existing ? { previous_role: existing.role } : {}) },
      });
      return { membership: { organization_id: org.id, user_id: user.id, role: input.role }, created };
    },

    async removeMember(id: string, userId: string, ctx: AdminContext): Promise<void> {
      const org = await load(id);
      const removed = isUuid(userId) ? await Membership.destroy({ where: { organizationId: org.id, userId } }) : 0;
      if (removed === 0) throw new NotFoundError('Membership not found', 'MEMBERSHIP_NOT_FOUND');
      await options.adminAudit.record('member_remove', ctx, { userId, detail: { organization_id: org.id } });
    },
  };
}

export type AdminOrganizationService = ReturnType<typeof createAdminOrganizationService>;
