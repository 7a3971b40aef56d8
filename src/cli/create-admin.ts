import { z } from 'zod';
import type { Config } from '../config.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../services/passwords.ts';
import type { Print } from './migrate.ts';
import { withServices } from './services.ts';

export interface CreateAdminInput {
  email: string;
  password?: string;
  username?: string;
}

/**
 * `create-admin --email E --password P`: creates an active, verified admin, or gives an existing user
 * (found by e-mail) the admin role. An existing user's password is left alone.
 */
export async function runCreateAdminCommand(config: Config, input: CreateAdminInput, print: Print = console.log): Promise<{ userId: string; created: boolean }> {
  const email = z.email().max(320).safeParse(input.email.trim().toLowerCase());
  if (!email.success) throw new Error(`--email ${input.email} is not a valid e-mail address`);
  return withServices(config, async (deps) => {
    const context = { door: 'cli' };
    const existing = await deps.accounts.findByEmail(email.data);
    if (existing) {
      await deps.roles.grant(existing.id, deps.roles.adminRole);
      await deps.audit.record({ type: 'cli.admin_promote', outcome: 'success', userId: existing.id, detail: { door: 'cli' } });
      print(`${existing.email} (${existing.id}) already existed and now has the ${deps.roles.adminRole} role; its password was not changed.`);
      if (existing.status !== 'active') print(`note: the account is ${existing.status}; activate it in the admin console to sign in.`);
      return { userId: existing.id, created: false };
    }
    const password = input.password ?? '';
    if (password.length < PASSWORD_MIN_LENGTH || password.length > PASSWORD_MAX_LENGTH) {
      throw new Error(`--password must have ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters to create ${email.data}`);
    }
    const account = await deps.accounts.register({ email: email.data, password, username: input.username ?? null }, context);
    await deps.roles.grant(account.id, deps.roles.adminRole);
    // The operator vouches for the address, as with the bootstrap admin.
    await deps.models.User.update({ emailVerified: true }, { where: { id: account.id } });
    await deps.audit.record({ type: 'cli.admin_create', outcome: 'success', userId: account.id, detail: { door: 'cli' } });
    print(`Created admin ${account.email} (${account.id}).`);
    return { userId: account.id, created: true };
  });
}
