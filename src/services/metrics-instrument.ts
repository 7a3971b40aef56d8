/**
 * Counting logins and issued tokens without teaching the services about metrics: the composition root
 * wraps the shared services once, so every door (legacy profiles, interaction pages, admin) is counted
 * the same way, and oidc-provider's own events count the tokens it issues.
 */
import { RateLimitedError } from '../errors.ts';
import type { AccountService } from './accounts/accounts.ts';
import type { TokenService } from './tokens.ts';
import { AccountInactiveError, InvalidCredentialsError } from './accounts/errors.ts';
import type { Dependency, LoginOutcome, Metrics, TokenType } from './metrics.ts';

function loginOutcome(err: unknown): LoginOutcome {
  if (err instanceof InvalidCredentialsError) return 'invalid_credentials';
  if (err instanceof AccountInactiveError) return 'inactive';
  if (err instanceof RateLimitedError) return 'rate_limited';
  return 'error';
}

/** The account service with `authenticate` counted by outcome and door. */
export function instrumentAccounts(accounts: AccountService, metrics: Pick<Metrics, 'login'>): AccountService {
  return {
    ...accounts,
    async authenticate(...args: Parameters<AccountService['authenticate']>) {
      const door = args[2].door;
      try {
        const account = await accounts.authenticate(...args);
        metrics.login('success', door);
        return account;
      } catch (err) {
        metrics.login(loginOutcome(err), door);
        throw err;
      }
    },
  };
}

/** The token service with every legacy access and refresh token counted when it is handed out. */
export function instrumentTokens(tokens: TokenService, metrics: Pick<Metrics, 'tokenIssued'>): TokenService {
  const counted = (type: TokenType) => metrics.tokenIssued(type, 'legacy');
  return {
    ...tokens,
    async issueTokens(...args: Parameters<TokenService['issueTokens']>) {
      const pair = await tokens.issueTokens(...args);
      counted('access_token');
      counted('refresh_token');
      return pair;
    },
    async issueAccessToken(...args: Parameters<TokenService['issueAccessToken']>) {
      const issued = await tokens.issueAccessToken(...args);
      counted('access_token');
      return issued;
    },
    async issueRefreshToken(...args: Parameters<TokenService['issueRefreshToken']>) {
      const issued = await tokens.issueRefreshToken(...args);
      counted('refresh_token');
      return issued;
    },
    async rotateRefreshToken(...args: Parameters<TokenService['rotateRefreshToken']>) {
      const rotated = await tokens.rotateRefreshToken(...args);
      counted('refresh_token');
      return rotated;
    },
  };
}

/** The slice of oidc-provider (an EventEmitter) this needs. */
export interface ProviderEvents {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}

// oidc-provider emits `<model>.saved` for tokens it stores and `<model>.issued` for structured (JWT)
// ones it does not; either way one token left the provider.
const PROVIDER_TOKEN_EVENTS: Record<string, TokenType> = {
  'access_token.saved': 'access_token',
  'access_token.issued': 'access_token',
  'client_credentials.saved': 'client_credentials',
  'client_credentials.issued': 'client_credentials',
  'refresh_token.saved': 'refresh_token',
  'authorization_code.saved': 'authorization_code',
  'device_code.saved': 'device_code',
};

/**
 * Counts the tokens oidc-provider issues, and its server errors caused by the database or the store
 * (the provider answers those itself, so they never reach our middleware). Call once per provider.
 */
export function observeProvider(
  provider: ProviderEvents,
  metrics: Pick<Metrics, 'tokenIssued' | 'dependencyError'>,
  dependencyOf: (err: unknown) => Dependency | undefined = () => undefined,
): void {
  for (const [event, type] of Object.entries(PROVIDER_TOKEN_EVENTS)) {
    provider.on(event, () => metrics.tokenIssued(type, 'oidc'));
  }
  provider.on('server_error', (_ctx: unknown, err: unknown) => {
    const dependency = dependencyOf(err);
    if (dependency) metrics.dependencyError(dependency);
  });
}
