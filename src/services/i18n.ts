/**
 * Languages of the pages and mails (CONTRACT §4 "Languages"): message catalogues in files
 * (`locales/<lang>/<namespace>.json`, i18next's JSON format, `{{name}}` interpolation), loaded once at start.
 * English is the reference catalogue: a key missing in another language falls back to it. The language of
 * a request is `ui_locales` (the OIDC parameter, space-separated tags in order of preference), then
 * `Accept-Language`, then the first of `UI_LOCALES`.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import i18next, { type Resource } from 'i18next';
import Negotiator from 'negotiator';
import type { Locale } from '../config.ts';

export const LOCALES_DIR = path.resolve(import.meta.dirname, '../../locales');
export const DEFAULT_NAMESPACE = 'common';
/** The catalogue every other one falls back to. */
export const REFERENCE_LOCALE: Locale = 'en';

/** The server does not know the reader's time zone: times are shown in UTC and say so. */
const DATE_FORMAT: Intl.DateTimeFormatOptions = { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'UTC', timeZoneName: 'short' };

export type Translate = (key: string, vars?: Record<string, unknown>) => string;

export interface I18n {
  /** The configured languages (UI_LOCALES), the default first. */
  readonly locales: readonly Locale[];
  readonly defaultLocale: Locale;
  negotiate(uiLocales?: unknown, acceptLanguage?: unknown): Locale;
  /** The translator of `lang`; of the default language without one. */
  translator(lang?: Locale): Translate;
  formatDate(lang: Locale, date: Date | string | number): string;
}

/** Every `<namespace>.json` of each language folder, parsed. */
export function loadCatalogues(dir: string, locales: readonly string[]): Resource {
  const resources: Resource = {};
  for (const lang of new Set([...locales, REFERENCE_LOCALE])) {
    const folder = path.join(dir, lang);
    resources[lang] = {};
    for (const file of readdirSync(folder).filter((name) => name.endsWith('.json')).sort()) {
      (resources[lang] as Record<string, unknown>)[path.basename(file, '.json')] = JSON.parse(readFileSync(path.join(folder, file), 'utf8')) as unknown;
    }
  }
  return resources;
}

/** The primary subtag of a language tag, lower-case: `de-CH` → `de`. */
const primary = (tag: string): string => tag.trim().toLowerCase().split(/[-_]/)[0] ?? '';

export function createI18n(options: { locales: readonly Locale[]; dir?: string }): I18n {
  const locales = options.locales;
  const defaultLocale = locales[0] ?? REFERENCE_LOCALE;
  const resources = loadCatalogues(options.dir ?? LOCALES_DIR, locales);
  const instance = i18next.createInstance();
  void instance.init({
    resources,
    lng: defaultLocale,
    fallbackLng: REFERENCE_LOCALE,
    supportedLngs: [...new Set([...locales, REFERENCE_LOCALE])],
    ns: Object.keys(resources[REFERENCE_LOCALE] ?? {}),
    defaultNS: DEFAULT_NAMESPACE,
    // ejs escapes what a page prints, and mails are plain text: escaping here would escape twice.
    interpolation: { escapeValue: false },
    initAsync: false,
    returnNull: false,
  });
  const translators = new Map<Locale, Translate>();
  for (const lang of locales) {
    const fixed = instance.getFixedT(lang);
    translators.set(lang, (key, vars) => fixed(key, vars ?? {}) as string);
  }
  const dateFormats = new Map(locales.map((lang) => [lang, new Intl.DateTimeFormat(lang, DATE_FORMAT)]));
  const byPrimary = new Map(locales.map((lang) => [primary(lang), lang]));

  return {
    locales,
    defaultLocale,
    negotiate(uiLocales, acceptLanguage) {
      if (typeof uiLocales === 'string') {
        for (const tag of uiLocales.split(' ').slice(0, 10)) {
          const found = byPrimary.get(primary(tag));
          if (found) return found;
        }
      }
      if (typeof acceptLanguage === 'string' && acceptLanguage.length <= 1000) {
        const best = new Negotiator({ headers: { 'accept-language': acceptLanguage } }).languages([...locales])[0];
        if (best) return best as Locale;
      }
      return defaultLocale;
    },
    translator(lang) {
      return (lang && translators.get(lang)) || (translators.get(defaultLocale) as Translate);
    },
    formatDate(lang, date) {
      const value = date instanceof Date ? date : new Date(date);
      if (Number.isNaN(value.getTime())) return '';
      return (dateFormats.get(lang) ?? (dateFormats.get(defaultLocale) as Intl.DateTimeFormat)).format(value);
    },
  };
}
