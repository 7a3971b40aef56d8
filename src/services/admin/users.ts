/**
 * Users as the admin API and console manage them: search with pagination, detail with roles and
 * organizations, create, change, delete, and their sessions. Registration, status changes and session
 * revocation go through the account and session services every door uses; this file adds the queries
 * and the admin-only changes (roles, e-mail verification), each one audited.
 */
import { Op, col, fn, where as sqlWhere } from 'sequelize';
import type { Sequelize, WhereOptions } from 'sequelize';
import type { Models, Role, User, UserStatus } from '../../db/models/index.ts';
import { USER_STATUSES } from '../../db/models/index.ts';
import { isUuid } from '../../db/uuid.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../errors.ts';
import type { AccountService } from '../accounts/accounts.ts';
import { AccountExistsError, SessionNotFoundError } from '../accounts/errors.ts';
import { compareRoleNames, toAccountView, type AccountView } from '../accounts/view.ts';
import type { AccountLinks } from '../accounts/mail.ts';
import { toSessionView, type SessionService, type SessionView } from '../sessions.ts';
import type { AdminAuditService, AdminContext, Page } from './audit.ts';
import type { DeleteUser } from '../accounts/user-deletion.ts';

/** The statuses an admin can set or filter by (the model's), for the doors' schemas. */
export { USER_STATUSES };

export type AdminUserView = Omit<AccountView, 'role_details'>;

export interface UserOrganizationView {
  id: string;
  name: string;
  slug: string;
  role: string;
}

export interface AdminUserDetail extends AdminUserView {
  organizations: UserOrganizationView[];
}

export interface UserSearch {
  q?: string;
  status?: UserStatus;
  limit: number;
  offset: number;
}

export interface CreateUserInput {
  email: string;
  password: string;
  username?: string | null;
  fullName?: string | null;
  roles?: string[];
}

export interface UserPatch {
  status?: UserStatus;
  roles?: string[];
  fullName?: string | null;
  phone?: string | null;
  username?: string;
  emailVerified?: boolean;
}

export interface AdminUserServiceOptions {
  models: Pick<Models, 'User' | 'Role' | 'UserRole' | 'Organization' | 'Membership'>;
  sequelize: Sequelize;
  accounts: Pick<AccountService, 'register' | 'setStatus' | 'updateProfile' | 'requestPasswordReset'>;
  sessions: Pick<SessionService, 'list' | 'revoke' | 'revokeAll'>;
  adminAudit: Pick<AdminAuditService, 'record'>;
  /** ADMIN_ROLE: an admin may not take it from themself. */
  adminRole: string;
  /** The one way a user is deleted (accounts/user-deletion.ts), shared with the user's own deletion. */
  deleteUser: DeleteUser;
}

export class UserNotFoundError extends NotFoundError {
  constructor() {
    super('User not found', 'USER_NOT_FOUND');
  }
}

/** An admin must not lock themselves out: not deactivate, demote or delete their own account. */
export class SelfLockoutError extends ConflictError {
  constructor(what: string) {
    super(`You cannot ${what} your own account`, 'ADMIN_SELF_LOCKOUT');
  }
}

function strip(view: AccountView): AdminUserView {
  const { role_details: _details, ...rest } = view;
  return rest;
}

/** A taken e-mail or username is a conflict in the admin API (409), whatever the legacy doors answer. */
function asConflict(err: unknown): unknown {
  return err instanceof AccountExistsError ? new ConflictError(err.message, err.code) : err;
}

export function createAdminUserService(options: AdminUserServiceOptions) {
  const { User, Role, UserRole, Organization, Membership } = options.models;
  const { accounts, sessions, adminAudit } = options;
  // Both databases have a "position of substring" function, under different names.
  const position = options.sequelize.getDialect() === 'sqlite' ? 'instr' : 'strpos';

  function contains(column: string, needle: string) {
    return sqlWhere(fn(position, column === 'full_name' ? fn('lower', col(column)) : col(column), needle), Op.gt, 0);
  }

  function searchWhere(search: Pick<UserSearch, 'q' | 'status'>): WhereOptions {
    const clauses: WhereOptions[] = [];
    const needle = search.q?.trim().toLowerCase();
    if (needle) {
      // email and username_normalized are stored lower-case already.
      const any: WhereOptions[] = [contains('email', needle), contains('username_normalized', needle), contains('full_name', needle)];
      if (isUuid(needle)) any.push({ id: needle });
      clauses.push({ [Op.or]: any });
    }
    if (search.status) clauses.push({ status: search.status });
    return clauses.length ? { [Op.and]: clauses } : {};
  }

  async function rolesOf(userIds: string[]): Promise<Map<string, Role[]>> {
    const byUser = new Map<string, Role[]>(userIds.map((id) => [id, []]));
    if (userIds.length === 0) return byUser;
    const links = await UserRole.findAll({ where: { userId: userIds } });
    const roles = links.length ? await Role.findAll({ where: { id: [...new Set(links.map((link) => link.roleId))] } }) : [];
    const byId = new Map(roles.map((role) => [role.id, role]));
    for (const link of links) {
      const role = byId.get(link.roleId);
      if (role) byUser.get(link.userId)?.push(role);
    }
    return byUser;
  }

  async function load(id: string): Promise<User> {
    const user = isUuid(id) ? await User.findOne({ where: { id } }) : null;
    if (!user) throw new UserNotFoundError();
    return user;
  }

  async function view(user: User): Promise<AdminUserView> {
    return strip(toAccountView(user, (await rolesOf([user.id])).get(user.id) ?? []));
  }

  /** The roles with these names; an unknown name is a 422 on `roles[i]`, before anything changes. */
  async function existingRoles(names: string[]): Promise<Role[]> {
    const unique = [...new Set(names)];
    const found = unique.length ? await Role.findAll({ where: { name: unique } }) : [];
    const known = new Set(found.map((role) => role.name));
    const issues = names.flatMap((name, index) =>
      known.has(name) ? [] : [{ loc: ['body', 'roles', index], msg: `Unknown role '${name}'`, type: 'value_error' }],
    );
    if (issues.length) throw new ValidationError(issues);
    return found;
  }

  async function setRoles(user: User, roles: Role[]): Promise<{ added: string[]; removed: string[] }> {
    const before = new Set(((await rolesOf([user.id])).get(user.id) ?? []).map((role) => role.name));
    const after = new Set(roles.map((role) => role.name));
    await user.setRoles(roles);
    return {
      added: [...after].filter((name) => !before.has(name)).sort(compareRoleNames),
      removed: [...before].filter((name) => !after.has(name)).sort(compareRoleNames),
    };
  }

  return {
    /** `q` matches e-mail, username and full name (case-insensitive substring) or the exact id. */
    async search(search: UserSearch): Promise<Page<AdminUserView>> {
      const where = searchWhere(search);
      const [users, total] = await Promise.all([
        User.findAll({ where, order: [['number', 'ASC']], limit: search.limit, offset: search.offset }),
        User.count({ where }),
      ]);
      const roles = await rolesOf(users.map((user) => user.id));
      return { items: users.map((user) => strip(toAccountView(user, roles.get(user.id) ?? []))), total };
    },

    /** The id of the user with this id or e-mail address, if there is one. */
    async resolve(idOrEmail: string): Promise<string | undefined> {
      const wanted = idOrEmail.trim().toLowerCase();
      const user = await User.findOne({ where: isUuid(wanted) ? { id: wanted } : { email: wanted }, attributes: ['id'] });
      return user?.id;
    },

    async get(id: string): Promise<AdminUserDetail> {
      const user = await load(id);
      const memberships = await Membership.findAll({
        where: { userId: user.id },
        include: [{ model: Organization, as: 'organization' }],
        order: [['createdAt', 'ASC']],
      });
      const organizations = memberships.flatMap((membership) =>
        membership.organization
          ? [{ id: membership.organization.id, name: membership.organization.name, slug: membership.organization.slug, role: membership.role }]
          : [],
      );
      return { ...(await view(user)), organizations };
    },

    /** Registers the user (with a personal organization, as every registration) and grants the roles. */
    async create(input: CreateUserInput, ctx: AdminContext): Promise<AdminUserView> {
      const roles = await existingRoles(input.roles ?? []);
      let created: AccountView;
      try {
        created = await accounts.register(
          { email: input.email, password: input.password, username: input.username ?? null, fullName: input.fullName ?? null },
          ctx,
        );
      } catch (err) {
        throw asConflict(err);
      }
      const user = await load(created.id);
      if (roles.length) await user.setRoles(roles);
      await adminAudit.record('user_create', ctx, { userId: user.id, detail: { roles: roles.map((role) => role.name).sort(compareRoleNames) } });
      return view(user);
    },

    /**
     * Applies the given fields. Leaving `active` ends every session and grant of the user at once
     * (accounts.setStatus → sessions.revokeAll, which the OIDC side listens to).
     */
    async update(id: string, patch: UserPatch, ctx: AdminContext): Promise<AdminUserView> {
      const user = await load(id);
      const roles = patch.roles ? await existingRoles(patch.roles) : undefined;
      if (user.id === ctx.actorId) {
        if (patch.status && patch.status !== 'active') throw new SelfLockoutError('deactivate');
        if (roles && !roles.some((role) => role.name === options.adminRole)) throw new SelfLockoutError(`remove the ${options.adminRole} role from`);
      }
      const changes: Record<string, unknown> = {};
      const profile = { fullName: patch.fullName, phone: patch.phone, username: patch.username };
      if (Object.values(profile).some((value) => value !== undefined)) {
        try {
          await accounts.updateProfile(user.id, profile, ctx);
        } catch (err) {
          throw asConflict(err);
        }
        for (const [field, value] of Object.entries({ full_name: patch.fullName, phone: patch.phone, username: patch.username })) {
          if (value !== undefined) changes[field] = value;
        }
      }
      if (patch.emailVerified !== undefined && patch.emailVerified !== user.emailVerified) {
        await User.update({ emailVerified: patch.emailVerified }, { where: { id: user.id } });
        changes.email_verified = patch.emailVerified;
      }
      if (roles) {
        const { added, removed } = await setRoles(user, roles);
        if (added.length || removed.length) changes.roles = { added, removed };
      }
      if (patch.status && patch.status !== user.status) {
        await accounts.setStatus(user.id, patch.status, ctx);
        changes.status = { from: user.status, to: patch.status };
      } else if (patch.status && patch.status !== 'active') {
        // Already inactive: make sure nothing survived (a session created by a race, a grant).
        await sessions.revokeAll(user.id, { reason: 'admin' });
      }
      if (Object.keys(changes).length) await adminAudit.record('user_update', ctx, { userId: user.id, detail: { changes } });
      return view(await load(user.id));
    },

    /**
     * Ends every session and grant, then deletes the user with their memberships and roles, and their
     * personal organization when no one else is in it. The audit trail keeps its events.
     */
    async delete(id: string, ctx: AdminContext): Promise<void> {
      const user = await load(id);
      if (user.id === ctx.actorId) throw new SelfLockoutError('delete');
      await options.deleteUser(user, 'admin');
      await adminAudit.record('user_delete', ctx, { userId: user.id, detail: { email: user.email } });
    },

    async sessions(id: string, opts: { includeExpired?: boolean } = {}): Promise<Page<SessionView>> {
      const user = await load(id);
      const items = (await sessions.list(user.id, { includeExpired: opts.includeExpired })).map(toSessionView);
      return { items, total: items.length };
    },

    async revokeSession(id: string, sessionId: string, ctx: AdminContext): Promise<void> {
      const user = await load(id);
      if (!(await sessions.revoke(user.id, sessionId, 'admin'))) throw new SessionNotFoundError();
      await adminAudit.record('session_revoke', ctx, { userId: user.id, detail: { session_id: sessionId } });
    },

    async revokeAllSessions(id: string, ctx: AdminContext): Promise<number> {
      const user = await load(id);
      const revoked = await sessions.revokeAll(user.id, { reason: 'admin' });
      await adminAudit.record('sessions_revoke_all', ctx, { userId: user.id, detail: { revoked_sessions: revoked } });
      return revoked;
    },

    /** E-mails the user a password reset link (only active users get one, as with "forgot password"). */
    async sendPasswordReset(id: string, ctx: AdminContext, links: AccountLinks): Promise<void> {
      const user = await load(id);
      await accounts.requestPasswordReset(user.email, ctx, links);
      await adminAudit.record('password_reset_link', ctx, { userId: user.id });
    },
  };
}

export type AdminUserService = ReturnType<typeof createAdminUserService>;
