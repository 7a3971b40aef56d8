import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Paths that may hold secrets anywhere a log call puts them. pino replaces them with "[redacted]",
 * so a careless `log.info({ body })` cannot leak a password or a token.
 */
const REDACT = [
  'password', '*.password', '*.*.password', 'new_password', '*.new_password', 'current_password', '*.current_password',
  'token', '*.token', 'access_token', '*.access_token', 'refresh_token', '*.refresh_token', 'id_token', '*.id_token',
  'client_secret', '*.client_secret', 'code', '*.code', 'cookieKeys', '*.cookieKeys',
  'req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', 'headers.authorization', 'headers.cookie',
];

export function createLogger(options: { level: string; destination?: DestinationStream; base?: Record<string, unknown> }): Logger {
  return pino(
    {
      level: options.level,
      base: options.base ?? { pid: process.pid },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination,
  );
}
