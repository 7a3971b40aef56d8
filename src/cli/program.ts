import { Command, CommanderError, Option } from 'commander';
import { loadConfig } from '../config.ts';
import type { Config } from '../config.ts';
import { runMigrateCommand } from './migrate.ts';
import { runRotateKeysCommand } from './rotate-keys.ts';
import type { RotateAlg } from './rotate-keys.ts';
import { runCreateAdminCommand } from './create-admin.ts';
import { runImportUsersCommand } from './import-users.ts';
import { runRevokeSessionsCommand } from './revoke-sessions.ts';

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

  program
    .command('create-admin')
    .description('create an admin account, or give an existing user (by e-mail) the admin role')
    .requiredOption('--email <email>', 'the admin\'s e-mail address')
    .option('--password <password>', 'password of a new account (8 to 256 characters); an existing account keeps its own')
    .option('--username <username>', 'username of a new account')
    .action(async (options: { email: string; password?: string; username?: string }) => {
      await runCreateAdminCommand(configure(), options);
    });

  program
    .command('import-users')
    .description('import users with their bcrypt or argon2id password hashes from a .json array or a .csv with a header row; skips e-mails that exist')
    .argument('<file>', 'columns/members: email, username?, full_name?, password_hash, roles? (";"-separated in CSV), email_verified?')
    .action(async (file: string) => {
      await runImportUsersCommand(configure(), file);
    });

  program
    .command('sessions:revoke')
    .description('revoke every session and grant of a user (needs REDIS_URL)')
    .requiredOption('--user <idOrEmail>', 'the user\'s id or e-mail address')
    .action(async (options: { user: string }) => {
      await runRevokeSessionsCommand(configure(), options.user);
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

