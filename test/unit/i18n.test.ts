import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { LOCALES_DIR, REFERENCE_LOCALE, createI18n } from '../../src/services/i18n.ts';
import { SUPPORTED_LOCALES } from '../../src/config.ts';

/** Every leaf key of a catalogue, as `namespace:a.b.c`. */
function keysOf(lang: string): string[] {
  const keys: string[] = [];
  const walk = (prefix: string, value: unknown): void => {
    if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(`${prefix}.${k}`, v);
    else keys.push(prefix);
  };
  for (const file of readdirSync(path.join(LOCALES_DIR, lang)).filter((f) => f.endsWith('.json'))) {
    walk(`${path.basename(file, '.json')}:`, JSON.parse(readFileSync(path.join(LOCALES_DIR, lang, file), 'utf8')) as unknown);
  }
  return keys.sort();
}

describe('i18n: languages of the pages and mails', () => {
  const i18n = createI18n({ locales: ['en', 'de'] });

  it('prefers ui_locales, then Accept-Language, then the first configured language', () => {
    expect(i18n.negotiate('de', 'en')).to.equal('de');
    expect(i18n.negotiate('fr-CA de-CH', 'en')).to.equal('de');
    expect(i18n.negotiate('fr', 'de-DE,de;q=0.9,en;q=0.5')).to.equal('de');
    expect(i18n.negotiate(undefined, 'fr, en;q=0.8, de;q=0.7')).to.equal('en');
    expect(i18n.negotiate(undefined, 'fr')).to.equal('en');
    expect(i18n.negotiate(undefined, undefined)).to.equal('en');
    expect(createI18n({ locales: ['de', 'en'] }).negotiate(undefined, undefined)).to.equal('de');
  });

  it('never picks a language that UI_LOCALES does not list', () => {
    const englishOnly = createI18n({ locales: ['en'] });
    expect(englishOnly.negotiate('de', 'de')).to.equal('en');
  });

  it('ignores values that are not strings or absurdly long', () => {
    expect(i18n.negotiate(['de'], 'x'.repeat(5000))).to.equal('en');
  });

  it('translates from the catalogue files, with interpolation, falling back to English for a key German lacks', () => {
    expect(i18n.translator('de')('common:skipToContent')).to.equal('Zum Inhalt springen');
    expect(i18n.translator('en')('skipToContent')).to.equal('Skip to content');
    const dir = mkdtempSync(path.join(tmpdir(), 'locales-'));
    for (const [lang, catalogue] of [['en', { hello: 'Hello {{name}}', only: 'English only' }], ['de', { hello: 'Hallo {{name}}' }]] as const) {
      mkdirSync(path.join(dir, lang));
      writeFileSync(path.join(dir, lang, 'common.json'), JSON.stringify(catalogue));
    }
    const own = createI18n({ locales: ['de', 'en'], dir });
    expect(own.translator('de')('hello', { name: '<b>Jo</b>' })).to.equal('Hallo <b>Jo</b>');
    expect(own.translator('de')('only')).to.equal('English only');
  });

  it('formats dates in the language', () => {
    const date = new Date('2026-03-05T14:07:00Z');
    expect(i18n.formatDate('en', date)).to.match(/Mar 5, 2026.*02:07.*UTC/);
    expect(i18n.formatDate('de', date)).to.match(/5\. März 2026.*14:07.*UTC/);
    expect(i18n.formatDate('de', 'not a date')).to.equal('');
  });

  it('has the same keys in every catalogue as in the English one', () => {
    const reference = keysOf(REFERENCE_LOCALE);
    expect(reference.length).to.be.greaterThan(0);
    for (const lang of SUPPORTED_LOCALES) expect(keysOf(lang), lang).to.deep.equal(reference);
  });
});
