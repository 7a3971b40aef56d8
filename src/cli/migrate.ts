import type { Config } from '../config.ts';
import { withCliServices } from './services.ts';

export type Print = (line: string) => void;

/**
 * `migrate`: applies pending migrations and, with KEY_ENCRYPTION_KEY set, encrypts the signing keys still
 * stored in plaintext (migration 0008 does so once; keys added later by a process without the key, or a
 * key set after 0008 ran, are caught here and at every start). Returns the migrations' names.
 */
export async function runMigrateCommand(config: Config, print: Print = console.log): Promise<string[]> {
  const { applied, sealed } = await withCliServices(config, (deps) => deps.migrate());
  if (applied.length === 0) print('Database schema is up to date; no pending migrations.');
  for (const name of applied) print(`applied ${name}`);
  if (sealed > 0) print(`encrypted ${sealed} signing key(s) with KEY_ENCRYPTION_KEY`);
  return applied;
}
