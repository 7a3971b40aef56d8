import path from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import type { Config } from '../config.ts';
import type { ImportSummary } from '../services/admin/import.ts';
import type { Print } from './migrate.ts';
import { withCliServices } from './services.ts';
import { readUserFile } from './user-file.ts';

export interface ImportUsersOptions {
  print?: Print;
  /** Where rejected rows are reported (stderr by default). */
  printError?: Print;
  /** Draw a progress bar on stderr (only when it is a terminal). */
  progress?: boolean;
  batchSize?: number;
}

/**
 * `import-users FILE`: imports a .json or .csv of users with their password hashes (see
 * services/admin/import.ts). Rejected rows are listed with their line; the summary line is
 * `created N, skipped N, rejected N`. Rejected rows do not make the command fail: the file was
 * imported, and running it again (after fixing those rows) picks up where it left off.
 */
export async function runImportUsersCommand(
  config: Config,
  file: string,
  options: ImportUsersOptions = {},
): Promise<ImportSummary> {
  const print = options.print ?? console.log;
  const printError = options.printError ?? console.error;
  const { rows, unreadable } = await readUserFile(file);
  const summary = await withCliServices(config, async (deps) => {
    if (config.database.migrateOnStart) await deps.migrate();
    const total = rows.length + unreadable.length;
    const bar = (options.progress ?? process.stderr.isTTY)
      ? new SingleBar({ format: 'importing users [{bar}] {percentage}% | {value}/{total}', stream: process.stderr, hideCursor: true }, Presets.shades_classic)
      : undefined;
    bar?.start(total, unreadable.length);
    try {
      const result = await deps.importer.run(rows, (done) => bar?.update(unreadable.length + done));
      await deps.audit.record({
        type: 'cli.import_users',
        outcome: 'success',
        detail: { file: path.basename(file), created: result.created, skipped: result.skipped, rejected: result.rejected.length + unreadable.length, door: 'cli' },
      });
      return result;
    } finally {
      bar?.stop();
    }
  }, { importBatchSize: options.batchSize });
  summary.rejected = [...unreadable, ...summary.rejected].sort((a, b) => a.line - b.line);
  for (const rejection of summary.rejected) printError(`line ${rejection.line}: ${rejection.reason}`);
  print(`created ${summary.created}, skipped ${summary.skipped}, rejected ${summary.rejected.length}`);
  return summary;
}
