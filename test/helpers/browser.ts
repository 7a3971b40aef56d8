/**
 * Debian's Chromium driven by playwright-core, with the flags this machine needs (no background
 * networking: the sandbox has no network). Screenshots go to test-artifacts/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = path.resolve(import.meta.dirname, '../../test-artifacts');
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Skips the suite when Chromium is missing, unless REQUIRE_SERVICES=1, where that fails it. */
export function requireChromium(mocha: Mocha.Context): void {
  if (existsSync(CHROMIUM)) {
    mkdirSync(ARTIFACTS, { recursive: true });
    return;
  }
  if (process.env.REQUIRE_SERVICES === '1') throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install chromium)`);
  mocha.skip();
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
}
