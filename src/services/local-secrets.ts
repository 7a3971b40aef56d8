import { randomBytes } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { writePrivateFile } from '../private-files.ts';

/**
 * Cookie keys for the embedded default: generated once and kept under the data folder, so sessions
 * survive a restart without any configuration. Production must set COOKIE_KEYS (config.ts refuses
 * to start otherwise).
 */
export function loadOrCreateCookieKeys(dataDir: string): string[] {
  const file = path.join(dataDir, 'cookie-keys.json');
  if (existsSync(file)) {
    const keys: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (Array.isArray(keys) && keys.length && keys.every((k) => typeof k === 'string' && k.length >= 32)) return keys as string[];
  }
  const keys = [randomBytes(32).toString('base64url')];
  writePrivateFile(file, JSON.stringify(keys));
  return keys;
}
