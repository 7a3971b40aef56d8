import type { Config } from '../config.ts';
import { isUuid } from '../services/identifiers.ts';
import type { Print } from './migrate.ts';
import { withServices } from './services.ts';

/**
 * `sessions:revoke --user ID_OR_EMAIL`: ends every session of the user, password and OIDC alike, and
 * revokes all their grants (the OIDC side listens to revokeAll), so every token they hold stops working.
 */
export async function runRevokeSessionsCommand(config: Config, user: string, print: Print = console.log): Promise<number> {
  if (config.redis.embedded) {
    throw new Error('sessions:revoke needs the shared store (REDIS_URL): with the embedded store, sessions live inside the server process; use the admin console or API instead');
  }
  return withServices(config, async (deps) => {
    const wanted = user.trim();
    const account = isUuid(wanted) ? await deps.accounts.getById(wanted.toLowerCase()) : await deps.accounts.findByEmail(wanted);
    if (!account) throw new Error(`no user with id or e-mail ${wanted}`);
    const revoked = await deps.sessions.revokeAll(account.id, { reason: 'admin' });
    await deps.audit.record({ type: 'cli.sessions_revoke', outcome: 'success', userId: account.id, detail: { revoked_sessions: revoked, door: 'cli' } });
    print(`Revoked ${revoked} session${revoked === 1 ? '' : 's'} and every grant of ${account.email} (${account.id}).`);
    // The relying parties' back-channel logouts (and their retries, within a minute) finish before the command exits.
    await deps.oidc.backchannel.settle(60_000);
    return revoked;
  });
}
