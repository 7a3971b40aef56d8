/**
 * The catalogues against the code that uses them: every key a page or a door names exists in English
 * (the reference every language has exactly the keys of, test/unit/i18n.test.ts), and the markup messages
 * printed unescaped (`tx`) carry only harmless tags.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { LOCALES_DIR, REFERENCE_LOCALE } from '../../src/services/i18n.ts';
import { SUPPORTED_LOCALES } from '../../src/config.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

function filesUnder(dir: string, ext: string, skip: readonly string[] = []): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (skip.includes(full)) continue;
    if (statSync(full).isDirectory()) out.push(...filesUnder(full, ext, skip));
    else if (name.endsWith(ext)) out.push(full);
  }
  return out;
}

/** Every leaf of a language's catalogues: `namespace:a.b.c` → text. */
function leaves(lang: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (prefix: string, value: unknown): void => {
    if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(prefix.endsWith(':') ? `${prefix}${k}` : `${prefix}.${k}`, v);
    else out.set(prefix, String(value));
  };
  for (const file of readdirSync(path.join(LOCALES_DIR, lang)).filter((f) => f.endsWith('.json'))) {
    walk(`${path.basename(file, '.json')}:`, JSON.parse(readFileSync(path.join(LOCALES_DIR, lang, file), 'utf8')) as unknown);
  }
  return out;
}

describe('i18n: the catalogues and the code that uses them', () => {
  const english = leaves(REFERENCE_LOCALE);
  const namespaces = [...new Set([...english.keys()].map((key) => key.split(':')[0]))];

  it('has every key the pages and doors name in the English catalogues', () => {
    // A quoted `namespace:key` literal: t('login:title'), tx("consent:lead", …), new PageError(400, 'errors:expired').
    const literal = new RegExp(`['"]((?:${namespaces.join('|')}):[A-Za-z0-9_.-]+)['"]`, 'g');
    const sources = [
      ...filesUnder(path.join(ROOT, 'views'), '.ejs', [path.join(ROOT, 'views', 'admin')]),
      ...filesUnder(path.join(ROOT, 'src'), '.ts'),
    ];
    const used = new Map<string, string>();
    for (const file of sources) for (const match of readFileSync(file, 'utf8').matchAll(literal)) used.set(match[1] as string, path.relative(ROOT, file));
    expect(used.size, 'the scan finds the keys in use').to.be.greaterThan(50);
    // A plural key is written without its suffix (`mail:verify.expiry` with `count`).
    // A prefix ending in a dot is completed at run time (`account:nav.` + the section): some key must start with it.
    const exists = (key: string): boolean =>
      key.endsWith('.') ? [...english.keys()].some((known) => known.startsWith(key)) : english.has(key) || english.has(`${key}_one`) || english.has(`${key}_other`);
    const missing = [...used].filter(([key]) => !exists(key)).map(([key, file]) => `${key} (${file})`);
    expect(missing).to.deep.equal([]);
  });

  it('keeps the markup of every message to <strong>, <code> and same-site links', () => {
    const allowed = /^<\/?(strong|code)( class="[a-z-]+")?>$|^<a href="\/[a-z/-]*">$|^<\/a>$/;
    for (const lang of SUPPORTED_LOCALES) {
      for (const [key, text] of leaves(lang)) {
        for (const tag of text.match(/<[^>]*>/g) ?? []) expect(tag, `${lang} ${key}`).to.match(allowed);
      }
    }
  });

  it('uses the same placeholders in every language as in English', () => {
    const placeholders = (text: string): string[] => [...text.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1] as string).sort();
    for (const lang of SUPPORTED_LOCALES) {
      const catalogue = leaves(lang);
      for (const [key, text] of english) expect(placeholders(catalogue.get(key) ?? ''), `${lang} ${key}`).to.deep.equal(placeholders(text));
    }
  });
});
