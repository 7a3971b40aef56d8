/**
 * Password strength as zxcvbn estimates it (0 = guessable in seconds … 4 = very unguessable), with the common
 * and English dictionaries. Only a production start with ADMIN_PASSWORD asks for one today. The estimate runs
 * in a child process (password-strength-estimate.ts): loading the dictionaries takes most of a second and
 * about 29 MB of heap, which a server would otherwise carry, and every full garbage collection mark, for as
 * long as it runs. The password goes to the child on its standard input, never in its arguments or
 * environment.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ESTIMATE = path.join(import.meta.dirname, 'password-strength-estimate.ts');

export type PasswordScore = 0 | 1 | 2 | 3 | 4;

/** The zxcvbn score of `password`; `related` are words an attacker would try first (the e-mail, the product). */
export function passwordScore(password: string, related: string[] = []): PasswordScore {
  const run = spawnSync(process.execPath, [ESTIMATE], {
    input: JSON.stringify({ password, related }),
    encoding: 'utf8',
    timeout: 60_000,
  });
  const score = Number(run.stdout);
  if (run.status !== 0 || !run.stdout || !Number.isInteger(score) || score < 0 || score > 4) {
    // The child's own error line (a thrown error, V8's out-of-memory line), not the stack or version after it.
    const errorLine = run.stderr?.split('\n').find((line) => /error/i.test(line))?.trim();
    const reason = run.error?.message ?? errorLine ?? `exit status ${run.status ?? run.signal}`;
    throw new Error(`the password strength estimate failed: ${reason}`);
  }
  return score as PasswordScore;
}
