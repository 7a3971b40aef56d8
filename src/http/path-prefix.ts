/** True when `path` is `prefix` itself or below it (`/auth` and `/auth/login`, not `/authx`). */
export function isUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}
