/**
 * Renders the interactive pages (ejs templates in views/): each page's own template, then
 * `_layout.ejs` around it. `<%= %>` escapes everything a page prints; templates are compiled once
 * per renderer and kept (they only change with a deploy).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import ejs from 'ejs';
import type { I18n, Translate } from '../../services/i18n.ts';
import type { Locale } from '../../config.ts';

export const VIEWS_DIR = path.resolve(import.meta.dirname, '../../../views');

/**
 * `lang` (the request's language, from `localeOf`) gives the page `t` (its translator), `tx`, `formatDate`
 * and `<html lang>`; without it the page is in the default language.
 */
export type PageLocals = Record<string, unknown> & { title: string; lang?: Locale };

export interface Views {
  render(name: string, locals: PageLocals): Promise<string>;
}

type Template = (data: Record<string, unknown>) => string;

/**
 * A message that carries markup (`<strong>{{client}}</strong>`), printed with `<%- %>`: the catalogue is
 * ours and trusted, every value put into it is escaped. Word order differs between languages, so the
 * markup has to live in the message rather than around it.
 */
export function markupTranslator(t: Translate): Translate {
  return (key, vars) => {
    const escaped: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(vars ?? {})) escaped[name] = name === 'count' ? value : ejs.escapeXML(String(value));
    return t(key, escaped);
  };
}

export function createViews(options: { dir?: string; siteName?: string; i18n?: I18n } = {}): Views {
  const dir = options.dir ?? VIEWS_DIR;
  const { i18n } = options;
  const siteName = options.siteName ?? 'Identity Provider';
  const compiled = new Map<string, Promise<Template>>();

  function template(name: string): Promise<Template> {
    if (!/^[a-z_][a-z0-9_-]*$/.test(name)) throw new Error(`bad view name ${name}`);
    let found = compiled.get(name);
    if (!found) {
      const filename = path.join(dir, `${name}.ejs`);
      found = readFile(filename, 'utf8').then((text) => ejs.compile(text, { filename, async: false }) as Template);
      // A failed read is not cached: the next request tries again.
      found.catch(() => compiled.delete(name));
      compiled.set(name, found);
    }
    return found;
  }

  return {
    async render(name, locals) {
      const lang = locals.lang ?? i18n?.defaultLocale ?? 'en';
      const t = i18n?.translator(lang);
      const language = i18n && t ? { t, tx: markupTranslator(t), formatDate: (date: Date | string | number) => i18n.formatDate(lang, date) } : {};
      const data = { siteName, ...language, ...locals, lang };
      const body = (await template(name))(data);
      return (await template('_layout'))({ ...data, body });
    },
  };
}
