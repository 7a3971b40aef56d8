import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';

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
  mkdirSync(dataDir, { recursive: true });
  const keys = [randomBytes(32).toString('base64url')];
  writeFileSync(file, JSON.stringify(keys), { mode: 0o600 });
  return keys;
}
