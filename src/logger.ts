import { pino, type Logger, type DestinationStream } from 'pino';
import { createRequire } from 'node:module';
import type * as Pretty from 'pino-pretty';

export type { Logger };

/**
 * Paths that may hold secrets anywhere a log call puts them. pino replaces them with "[redacted]",
 * so a careless `log.info({ body })` cannot leak a password or a token. `code` is an OAuth authorization
 * code only in a request's query, body or parameters; elsewhere (an exit code, an error code) it is logged.
 */
const REDACT = [
  'password', '*.password', '*.*.password', 'new_password', '*.new_password', 'current_password', '*.current_password',
  'token', '*.token', 'access_token', '*.access_token', 'refresh_token', '*.refresh_token', 'id_token', '*.id_token',
  'client_secret', '*.client_secret', 'code_verifier', '*.code_verifier', 'cookieKeys', '*.cookieKeys',
  'keyEncryptionKey', '*.keyEncryptionKey', 'metricsToken', '*.metricsToken',
  'query.code', '*.query.code', 'body.code', '*.body.code', 'params.code', '*.params.code',
  'req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', 'headers.authorization', 'headers.cookie',
];

// user:password@ in any URL (postgres://, redis://, smtp://, https://), wherever a line has one: in a message,
// an error's text, a logged option. Percent-encoding keeps '@', '/' and spaces out of a password in a URL.
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^\s:@/"'\\]*:)[^\s@/"'\\]+@/gi;

/** The finished line, with the password of every URL in it replaced. */
export function redactUrlCredentials(line: string): string {
  return line.includes('://') ? line.replace(URL_CREDENTIALS, '$1[redacted]@') : line;
}

/**
 * Standard output, written in batches: a line waits until 4 kB have gathered or 100 ms have passed, and
 * whatever is left is written when the process exits (pino flushes asynchronous destinations on exit).
 * A write per line was the largest single cost of the access log on the token endpoints (bench/README.md);
 * a process killed outright (SIGKILL, out of memory) loses at most its last 100 ms of lines.
 */
export function bufferedStdout(): DestinationStream {
  return pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 100 });
}

/**
 * Readable lines for a person at a terminal (development): pino-pretty's colours and one line per entry,
 * with the same fields and the same redaction. `destination` defaults to standard output.
 */
export function prettyStdout(destination: number | NodeJS.WritableStream = 1): DestinationStream {
  // Loaded only for a terminal: production processes never carry it.
  const { PinoPretty } = createRequire(import.meta.url)('pino-pretty') as typeof Pretty;
  return PinoPretty({ colorize: destination === 1, destination, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
}

/** Pretty lines when standard output is a terminal outside production; JSON lines for everything else. */
export function wantsPrettyLogs(stdoutIsTty: boolean | undefined, nodeEnv: string): boolean {
  return stdoutIsTty === true && nodeEnv !== 'production';
}

/** Where the server's log goes: a terminal gets pretty lines outside production, anything else JSON in batches. */
export function stdoutFor(nodeEnv: string): DestinationStream {
  return wantsPrettyLogs(process.stdout.isTTY, nodeEnv) ? prettyStdout() : bufferedStdout();
}

/**
 * pino's `isoTime`, formatted once per millisecond: a busy server writes several lines in the same
 * millisecond (an access line per request), and formatting the date costs about 0.5 µs a call (in a loop,
 * on the bench machine), nearly half of what building a whole access line took (1.1 µs, bench/README.md).
 * The text is the same as pino's.
 */
export function isoTimeOncePerMillisecond(now: () => number = Date.now): () => string {
  let formattedAt = Number.NaN;
  let formatted = '';
  return () => {
    const ms = now();
    if (ms !== formattedAt) {
      formattedAt = ms;
      formatted = `,"time":"${new Date(ms).toISOString()}"`;
    }
    return formatted;
  };
}

export function createLogger(options: { level: string; destination?: DestinationStream; base?: Record<string, unknown> }): Logger {
  return pino(
    {
      level: options.level,
      base: options.base ?? { pid: process.pid },
      redact: { paths: REDACT, censor: '[redacted]' },
      hooks: { streamWrite: redactUrlCredentials },
      timestamp: isoTimeOncePerMillisecond(),
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? bufferedStdout(),
  );
}
