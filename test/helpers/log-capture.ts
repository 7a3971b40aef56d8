/**
 * A pino destination that keeps every line in memory, for tests that read what the server logged
 * (secrets that must not be there, a line that must be).
 */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/logger.ts';

export interface LogCapture {
  /** The server's logger, writing here (with the production redaction rules). */
  logger: Logger;
  /** Everything logged so far, one JSON line each, as written. */
  text(): string;
  /** The parsed lines. */
  lines(): Record<string, unknown>[];
  clear(): void;
}

export function captureLogs(level = 'debug'): LogCapture {
  let chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  // pino writes synchronously to a plain stream: a line is here as soon as the log call returns.
  const logger = createLogger({ level, destination });
  const text = () => chunks.join('');
  return {
    logger,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    clear() {
      chunks = [];
    },
  };
}
