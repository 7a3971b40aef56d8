import { Command, CommanderError, Option } from 'commander';
import { loadConfig } from '../config.ts';
import type { Config } from '../config.ts';
import { runMigrateCommand } from './migrate.ts';
import { runRotateKeysCommand } from './rotate-keys.ts';
import type { RotateAlg } from './rotate-keys.ts';

/** The command-line program; `configure` is read lazily so `--help` works without configuration. */
export function createProgram(configure: () => Config = () => loadConfig()): Command {
  const program = new Command('idp')
    .description('Identity provider administration (reads the same configuration as the server)')
    .exitOverride()
    .showSuggestionAfterError();

  program
    .command('migrate')
    .description('run pending database migrations')
    .action(async () => {
      await runMigrateCommand(configure());
    });

  program
    .command('keys:rotate')
    .description('add a signing key that signs from the next start; old keys stay published until their tokens expire')
    .addOption(new Option('--alg <alg>', 'which algorithm gets a new key').choices(['ES256', 'RS256', 'both']).default('both'))
    .action(async (options: { alg: RotateAlg }) => {
      await runRotateKeysCommand(configure(), { alg: options.alg });
    });

  return program;
}

function oneLine(err: unknown): string {
  if (err instanceof Error) {
    // Configuration errors list one problem per line (CONTRACT §1); everything else is one line.
    return err.name === 'ConfigError' ? err.message : err.message.split('\n')[0] ?? err.name;
  }
  return String(err);
}

export async function main(argv: string[]): Promise<number> {
  const program = createProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    // Commander already printed its own one-line message (unknown command, bad option, …);
    // --help and --version end with exit code 0.
    if (err instanceof CommanderError) return err.exitCode;
    console.error(`error: ${oneLine(err)}`);
    return 1;
  }
}

