import { z } from 'zod';
import type { Config } from '../config.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../services/passwords.ts';
import type { Print } from './migrate.ts';
import { withCliServices } from './services.ts';

export interface CreateAdminInput {
  email: string;
  password?: string;
  username?: string;
}

/**
 * `create-admin --email E --password P`: creates an active, verified admin, or gives an existing user
 * (found by e-mail) the admin role. An existing user's password is left alone. Needs the database only
 * (the admin accounts service of buildCliDependencies), not the store.
 */
export async function runCreateAdminCommand(config: Config, input: CreateAdminInput, print: Print = console.log): Promise<{ userId: string; created: boolean }> {
  const email = z.email().max(320).safeParse(input.email.trim().toLowerCase());
  if (!email.success) throw new Error(`--email ${input.email} is not a valid e-mail address`);
  return withCliServices(config, async (deps) => {
    const context = { door: 'cli' };
    const role = deps.adminAccounts.adminRole;
    const promoted = await deps.adminAccounts.promote(email.data, context);
    if (promoted) {
      print(`${promoted.email} (${promoted.userId}) already existed and now has the ${role} role; its password was not changed.`);
      if (promoted.status !== 'active') print(`note: the account is ${promoted.status}; activate it in the admin console to sign in.`);
      return { userId: promoted.userId, created: false };
    }
    const password = input.password ?? '';
    if (password.length < PASSWORD_MIN_LENGTH || password.length > PASSWORD_MAX_LENGTH) {
      throw new Error(`--password must have ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters to create ${email.data}`);
    }
    const created = await deps.adminAccounts.create({ email: email.data, password, username: input.username ?? null }, context);
    print(`Created admin ${created.email} (${created.userId}).`);
    return { userId: created.userId, created: true };
  });
}
