import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { writePrivateFile } from '../../private-files.ts';
import type { Logger } from '../../logger.ts';
import type { Models } from '../../db/models/index.ts';
import type { AccountService } from '../accounts/accounts.ts';
import type { RoleService } from '../roles.ts';
import { AccountExistsError } from '../accounts/errors.ts';

export const DEFAULT_ADMIN_EMAIL = 'admin@localhost';
export const ADMIN_PASSWORD_FILE = 'admin-password.txt';

export interface InitialAdminOptions {
  email?: string;
  password?: string;
  dataDir: string;
}

/**
 * First start on an empty database: create an admin so someone can sign in at all. With ADMIN_EMAIL and
 * ADMIN_PASSWORD that account; otherwise admin@localhost with a random password written to a file only
 * the server's user can read (the log names the file, never the password).
 */
export async function ensureInitialAdmin(
  deps: { models: Pick<Models, 'User'>; accounts: Pick<AccountService, 'register'>; roles: Pick<RoleService, 'grant' | 'adminRole'>; logger: Logger },
  options: InitialAdminOptions,
): Promise<void> {
  if ((await deps.models.User.count()) > 0) return;
  const email = options.email ?? DEFAULT_ADMIN_EMAIL;
  const password = options.password ?? randomBytes(18).toString('base64url');
  let userId: string;
  try {
    userId = (await deps.accounts.register({ email, password, username: 'admin', fullName: 'Administrator' }, { door: 'bootstrap' })).id;
  } catch (err) {
    // Another process starting at the same moment created it first.
    if (err instanceof AccountExistsError) return;
    throw err;
  }
  await deps.roles.grant(userId, deps.roles.adminRole);
  await deps.models.User.update({ emailVerified: true }, { where: { id: userId } });
  if (options.password) {
    deps.logger.info({ email }, 'created the admin account from ADMIN_EMAIL / ADMIN_PASSWORD');
    return;
  }
  const file = path.join(options.dataDir, ADMIN_PASSWORD_FILE);
  writePrivateFile(file, `${password}\n`);
  deps.logger.warn({ email, passwordFile: file }, `created the admin account ${email}; its one-time password is in ${file} (sign in and change it, then delete the file)`);
}
