/**
 * Files only the server's own user may read (CONTRACT §1): the embedded data folder holds the SQLite database
 * (password hashes, signing keys), generated cookie keys, the admin's one-time password and the outbox's
 * one-time links. Folders are 0700 and files 0600 whatever the umask, and a folder made by an older version
 * (0755 and 0644) is brought to those modes at start.
 */
import { chmodSync, closeSync, fchmodSync, lstatSync, mkdirSync, openSync, readdirSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

// Bounds the walk of a data folder that is not what it should be (a symlink loop cannot occur: links are skipped).
const MAX_DEPTH = 8;

const missing = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'ENOENT';

function setMode(target: string, mode: number, current: number): void {
  if ((current & 0o777) !== mode) chmodSync(target, mode);
}

/** Creates `dir` (and its missing parents) 0700; an existing `dir` is set to 0700, its parents are left alone. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  setMode(dir, PRIVATE_DIR_MODE, statSync(dir).mode);
}

/** Writes `data` to `file` in a private folder; the file is 0600 before anything is written, even if it existed. */
export function writePrivateFile(file: string, data: string | Buffer): void {
  ensurePrivateDir(path.dirname(file));
  const fd = openSync(file, 'w', PRIVATE_FILE_MODE);
  try {
    fchmodSync(fd, PRIVATE_FILE_MODE);
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
  } finally {
    closeSync(fd);
  }
}

/**
 * Creates an empty `file` 0600 if there is none and sets an existing one to 0600, with the `suffixes`
 * files beside it when they exist. SQLite creates its -wal and -shm files with the database file's
 * permissions, so a database file that is 0600 before SQLite opens it keeps them private too.
 */
export function ensurePrivateFile(file: string, suffixes: readonly string[] = []): void {
  closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
  for (const one of [file, ...suffixes.map((suffix) => `${file}${suffix}`)]) {
    try {
      setMode(one, PRIVATE_FILE_MODE, lstatSync(one).mode);
    } catch (err) {
      if (!missing(err)) throw err;
    }
  }
}

/**
 * Sets `dir` and every folder in it to 0700 and every file to 0600. `dir` itself may be a symbolic link to
 * the real folder; links inside it are left alone (their targets are not ours to change). Nothing happens
 * when `dir` does not exist.
 */
export function securePrivateDir(dir: string): void {
  const walk = (current: string, depth: number): void => {
    let stats;
    try {
      stats = depth === 0 ? statSync(current) : lstatSync(current);
    } catch (err) {
      if (missing(err)) return;
      throw err;
    }
    if (stats.isDirectory()) {
      setMode(current, PRIVATE_DIR_MODE, stats.mode);
      if (depth >= MAX_DEPTH) return;
      for (const entry of readdirSync(current)) walk(path.join(current, entry), depth + 1);
    } else if (stats.isFile()) {
      setMode(current, PRIVATE_FILE_MODE, stats.mode);
    }
  };
  walk(dir, 0);
}
