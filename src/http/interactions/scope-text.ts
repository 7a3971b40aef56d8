import type { Translate } from '../../services/i18n.ts';

/** Scopes with their own words on the consent page (`consent:scopes.<name>`); others are named as they are. */
const DESCRIBED = new Set(['openid', 'profile', 'email', 'phone', 'roles', 'organization', 'offline_access']);

export interface ScopeLine {
  name: string;
  text: string;
}

/** One line per scope, in request order, without duplicates, in the page's language; resource scopes name their API. */
export function describeScopes(t: Translate, scopes: readonly string[], resourceScopes: Record<string, readonly string[]> = {}): ScopeLine[] {
  const apiOf = new Map<string, string>();
  for (const [resource, names] of Object.entries(resourceScopes)) for (const name of names) apiOf.set(name, resource);
  const lines: ScopeLine[] = [];
  const seen = new Set<string>();
  for (const name of scopes) {
    if (!name || seen.has(name)) continue;
    seen.add(name);
    const api = apiOf.get(name);
    const text = DESCRIBED.has(name) ? t(`consent:scopes.${name}`) : api ? t('consent:scopes.resource', { api, name }) : t('consent:scopes.other', { name });
    lines.push({ name, text });
  }
  return lines;
}
