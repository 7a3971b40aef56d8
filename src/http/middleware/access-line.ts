import { pino, type Logger } from 'pino';

/** The fields of one access line, in the order they are written. */
export interface AccessLine {
  reqId: string;
  method: string;
  url: string;
  status: number;
  ms: number;
  ip: string;
  aborted?: true;
}

const { chindingsSym, endSym, hooksSym, lsCacheSym, messageKeySym, needsMetadataGsym, streamSym, timeSym } = pino.symbols;

/**
 * Writes the access line exactly as `logger.info(line, 'request')` would (same level, time, bindings, field
 * order, stream and streamWrite hook; test/unit/access-line.test.ts compares the two byte for byte), built as
 * one string. pino's general path (its argument handling, a string concatenation per field, the message
 * formatter) allocates about 2 kB per line, this one about 1 kB, on every request of the token endpoints
 * (bench/README.md, *second pass*). Only strings a client chooses (method, path, address) are escaped; the request id is one
 * of ours or passed the request-id check, which allows no character JSON must escape.
 */
export function accessLineWriter(logger: Logger): (line: AccessLine) => void {
  // pino's own parts of a line, as its write path reads them (pino.symbols is its public door to them).
  const internal = <T>(symbol: symbol): T => (logger as unknown as Record<symbol, T>)[symbol] as T;
  const start = internal<Record<number, string | undefined>>(lsCacheSym)[logger.levels.values.info ?? 30];
  if (start === undefined) throw new Error('access line: the logger has no info level');
  const time = internal<() => string>(timeSym);
  const bindings = internal<string>(chindingsSym);
  const message = `,${JSON.stringify(internal<string>(messageKeySym))}:"request"${internal<string>(endSym)}`;
  const hook = internal<{ streamWrite?: (line: string) => string }>(hooksSym).streamWrite;
  const stream = internal<{ write(line: string): unknown } & Record<symbol, unknown>>(streamSym);
  // A stream that reads each line's level and object besides its text (pino.multistream) gets pino's own path.
  if (stream[needsMetadataGsym] === true) return (line) => logger.info(line, 'request');
  return (line) => {
    if (!logger.isLevelEnabled('info')) return;
    const text =
      `${start}${time.call(logger)}${bindings}` +
      `,"reqId":"${line.reqId}","method":${JSON.stringify(line.method)},"url":${JSON.stringify(line.url)}` +
      `,"status":${line.status},"ms":${line.ms},"ip":${JSON.stringify(line.ip)}${line.aborted ? ',"aborted":true' : ''}${message}`;
    stream.write(hook ? hook(text) : text);
  };
}
