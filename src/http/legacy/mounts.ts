/**
 * The COMPAT_PROFILES mount table: which profile serves which prefix. Adding a profile is one file and
 * one line in PROFILES.
 */
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { CompatMount, ProfileName } from '../../config.ts';
import type { TokenPolicy } from '../../services/tokens.ts';
import type { Dependencies } from '../../dependencies.ts';
import { corsFor } from '../middleware/cors.ts';
import { createOperations } from './operations.ts';
import type { Profile } from './profile.ts';
import { createLegacyRouter, legacyMethods } from './router.ts';
import { authServiceProfile } from './auth-service.ts';
import { auroraProfile } from './aurora.ts';
import { v2Profile } from './v2.ts';
import { envelopeProfile } from './envelope.ts';
import { isUnder } from '../path-prefix.ts';

export const PROFILES: Record<ProfileName, Profile> = {
  'auth-service': authServiceProfile,
  aurora: auroraProfile,
  v2: v2Profile,
  envelope: envelopeProfile,
};

const API_VERSION = '1.0.0';

type LegacyDependencies = Pick<Dependencies, 'config' | 'accounts' | 'selfService' | 'sessions' | 'tokens' | 'audit' | 'i18n'> & Partial<Pick<Dependencies, 'mfa' | 'mfaLogin'>>;

/** A mount's options as the token service takes them; an HS256 secret is encoded once, here. */
export function tokenPolicy(mount: CompatMount, publicUrl: string): TokenPolicy {
  const { token } = mount;
  return {
    mount: mount.prefix,
    accessTokenTtl: mount.accessTokenTtl,
    refresh: mount.refresh,
    refreshTokenFormat: mount.refreshTokenFormat,
    extraClaims: PROFILES[mount.profile].tokenClaims,
    ...(token.signing === 'HS256' ? { hmac: { key: new TextEncoder().encode(token.secret), sub: token.sub, issuer: `${publicUrl}${mount.prefix}` } } : {}),
  };
}


export function createLegacyRouters(deps: LegacyDependencies): Router[] {
  // Open routes with their per-IP limits (CONTRACT §6); bearer checks read accounts through `deps` as before.
  const operations = createOperations({ ...deps, accounts: deps.selfService });
  return deps.config.compatProfiles.map((mount) =>
    createLegacyRouter({
      prefix: mount.prefix,
      profile: PROFILES[mount.profile],
      operations,
      mfa: deps.mfa && deps.mfaLogin ? { mfa: deps.mfa, mfaLogin: deps.mfaLogin, accounts: deps.accounts, sessions: deps.sessions, tokens: deps.tokens } : undefined,
      auth: deps,
      publicUrl: deps.config.publicUrl,
      i18n: deps.i18n,
      mount,
      registrationClosed: deps.config.registration === 'closed',
      policy: tokenPolicy(mount, deps.config.publicUrl),
      version: API_VERSION,
    }),
  );
}

/**
 * Runs before body parsing and routing: a request under a mount gets that profile's error renderer at
 * once, so a malformed body (400), an oversized one (413) or an unknown path (404) already answers in the
 * profile's shape; and CORS (preflights included) for the legacy mounts and the admin API.
 */
export function createLegacyEarlyMiddleware(deps: Pick<Dependencies, 'config'>): Middleware[] {
  // Longest prefix first, so /auth/v2 (if mounted) wins over /auth.
  const mounts = [...deps.config.compatProfiles].sort((a, b) => b.prefix.length - a.prefix.length);
  const renderer: Middleware = async (ctx, next) => {
    const mount = mounts.find(({ prefix }) => isUnder(ctx.path, prefix));
    if (mount) ctx.state.renderError = PROFILES[mount.profile].renderError;
    await next();
  };
  const methodsOf = (path: string): string[] | undefined => {
    const mount = mounts.find(({ prefix }) => isUnder(path, prefix));
    return mount ? legacyMethods(PROFILES[mount.profile], path.slice(mount.prefix.length)) : undefined;
  };
  const cors = corsFor({ origins: deps.config.corsOrigins, pathPrefixes: [...mounts.map((m) => m.prefix), '/admin/api'], methodsOf });
  return [cors, renderer];
}
