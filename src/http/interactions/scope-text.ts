/** What each scope lets an application do, in words a user can judge on the consent page. */
const TEXT: Record<string, string> = {
  openid: 'Know who you are (your user ID)',
  profile: 'See your name and username',
  email: 'See your e-mail address',
  phone: 'See your phone number',
  roles: 'See your roles',
  organization: 'See which organization you belong to',
  offline_access: 'Keep access while you are not using it',
};

export interface ScopeLine {
  name: string;
  text: string;
}

/** One line per scope, in request order, without duplicates; resource scopes name their API. */
export function describeScopes(scopes: readonly string[], resourceScopes: Record<string, readonly string[]> = {}): ScopeLine[] {
  const apiOf = new Map<string, string>();
  for (const [resource, names] of Object.entries(resourceScopes)) for (const name of names) apiOf.set(name, resource);
  const lines: ScopeLine[] = [];
  const seen = new Set<string>();
  for (const name of scopes) {
    if (!name || seen.has(name)) continue;
    seen.add(name);
    const api = apiOf.get(name);
    lines.push({ name, text: TEXT[name] ?? (api ? `Use ${api} with permission “${name}”` : `Permission “${name}”`) });
  }
  return lines;
}
