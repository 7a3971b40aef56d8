/**
 * Admin accounts made by an operator (the CLI's create-admin): an existing user gets the admin role, or a
 * new account is registered with it, its address counted as verified because the operator vouches for it.
 */
import type { UserQueries } from '../../db/queries/users.ts';
import type { AuditService } from '../audit.ts';
import type { RoleService } from '../roles.ts';
import type { RequestContext } from '../request-context.ts';
import type { RegisterInput, Registration } from '../accounts/registration.ts';

export interface AdminAccountsOptions {
  registration: Pick<Registration, 'register'>;
  users: Pick<UserQueries, 'findByEmail' | 'markEmailVerified'>;
  roles: Pick<RoleService, 'grant' | 'adminRole'>;
  audit: Pick<AuditService, 'record'>;
}

export interface AdminAccount {
  userId: string;
  email: string;
  status: string;
}

export function createAdminAccounts(options: AdminAccountsOptions) {
  const { users, roles, audit } = options;
  return {
    /** ADMIN_ROLE, the role these accounts get. */
    adminRole: roles.adminRole,

    /** Gives the user with this (lower-case) e-mail the admin role; undefined when there is none. */
    async promote(email: string, ctx: RequestContext): Promise<AdminAccount | undefined> {
      const existing = await users.findByEmail(email, true);
      if (!existing) return undefined;
      await roles.grant(existing.id, roles.adminRole);
      await audit.record({ type: `${ctx.door}.admin_promote`, outcome: 'success', userId: existing.id, detail: { door: ctx.door } });
      return { userId: existing.id, email: existing.email, status: existing.status };
    },

    /** Registers an active admin whose address counts as verified. */
    async create(input: Pick<RegisterInput, 'email' | 'password' | 'username'>, ctx: RequestContext): Promise<AdminAccount> {
      const user = await options.registration.register(input, ctx);
      await roles.grant(user.id, roles.adminRole);
      await users.markEmailVerified(user.id);
      await audit.record({ type: `${ctx.door}.admin_create`, outcome: 'success', userId: user.id, detail: { door: ctx.door } });
      return { userId: user.id, email: user.email, status: user.status };
    },
  };
}

export type AdminAccounts = ReturnType<typeof createAdminAccounts>;
