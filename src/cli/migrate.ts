import type { Config } from '../config.ts';
import { runMigrations } from '../db/migrate.ts';
import { withDatabase } from './database.ts';

export type Print = (line: string) => void;

/** `migrate`: applies pending migrations; returns their names. */
export async function runMigrateCommand(config: Pick<Config, 'database'>, print: Print = console.log): Promise<string[]> {
  const applied = await withDatabase(config, (sequelize) => runMigrations(sequelize));
  if (applied.length === 0) print('Database schema is up to date; no pending migrations.');
  for (const name of applied) print(`applied ${name}`);
  return applied;
}
