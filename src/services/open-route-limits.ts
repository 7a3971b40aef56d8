/**
 * Limits on the open account routes besides login (CONTRACT §6): registration, the two routes that send
 * mail (forgot-password, resend-verification) and the two that use an e-mailed link (verify-email,
 * reset-password), each counted per client IP; and the mails one address may receive.
 *
 * The per-IP limits are for the self-service doors: the composition root hands the legacy profiles (and
 * any sign-up page) the account service wrapped by withOpenRouteLimits, while the admin API and the CLI
 * keep the plain one. The per-address mail limit is the account service's own (every mail it sends asks
 * `allowMail` first), so no door can send one person more than its share. Counters live in the store
 * (Redis through rate-limiter-flexible, or in-process in embedded mode), like the login limits.
 */
import { RateLimiterRes } from 'rate-limiter-flexible';
import { RateLimitedError } from '../errors.ts';
import type { Store } from '../store/store.ts';
import type { AccountService } from './accounts/accounts.ts';
import type { Metrics } from './metrics.ts';
import { clientKey, identifierKey, reach, storeLimiter } from './rate-limits.ts';

export interface OpenRouteLimits {
  /** Registrations per client IP per window. */
  registerPerIp: number;
  /** Requests per client IP per window, for forgot-password and for resend-verification (each). */
  mailRequestsPerIp: number;
  /** Requests per client IP per window, for verify-email and for reset-password (each). */
  linkUsesPerIp: number;
  /** Account mails (verification, reset) one address may receive per window; past it none go out. */
  mailsPerAddress: number;
  windowSeconds: number;
}

export const DEFAULT_OPEN_ROUTE_LIMITS: OpenRouteLimits = {
  registerPerIp: 20,
  mailRequestsPerIp: 30,
  linkUsesPerIp: 30,
  mailsPerAddress: 5,
  windowSeconds: 3600,
};

export type OpenRoute = 'register' | 'forgot_password' | 'resend_verification' | 'verify_email' | 'reset_password';

export interface OpenRouteLimiterOptions {
  store: Pick<Store, 'redis'>;
  limits?: Partial<OpenRouteLimits>;
  metrics?: Pick<Metrics, 'rateLimitRejected'>;
}

export function createOpenRouteLimiter(options: OpenRouteLimiterOptions) {
  const limits: OpenRouteLimits = { ...DEFAULT_OPEN_ROUTE_LIMITS, ...options.limits };
  // Registration and the link routes need only the database: a Redis outage must not stop them (CONTRACT §6
  // asks a 503 only of what needs the store), so their counters fall back to this process's meanwhile.
  const perIp = (route: OpenRoute, points: number) =>
    storeLimiter(options.store, `rl:${route}:ip`, points, limits.windowSeconds, { outage: 'count-in-process' });
  const byRoute: Record<OpenRoute, ReturnType<typeof storeLimiter>> = {
    register: perIp('register', limits.registerPerIp),
    forgot_password: perIp('forgot_password', limits.mailRequestsPerIp),
    resend_verification: perIp('resend_verification', limits.mailRequestsPerIp),
    verify_email: perIp('verify_email', limits.linkUsesPerIp),
    reset_password: perIp('reset_password', limits.linkUsesPerIp),
  };
  const mails = storeLimiter(options.store, 'rl:mail:address', limits.mailsPerAddress, limits.windowSeconds, { outage: 'count-in-process' });

  return {
    limits,

    /** Counts one request of an IP to a route; over the limit → RateLimitedError (429, Retry-After). */
    async count(route: OpenRoute, ip: string | undefined): Promise<void> {
      try {
        await reach(byRoute[route].consume(clientKey(ip)));
      } catch (err) {
        if (!(err instanceof RateLimiterRes)) throw err;
        options.metrics?.rateLimitRejected(`${route}_ip`);
        throw new RateLimitedError(err.msBeforeNext / 1000);
      }
    },

    /** Takes one mail of an address's allowance; false when it is used up (the mail must not go out). */
    async allowMail(address: string): Promise<boolean> {
      try {
        await reach(mails.consume(identifierKey(address)));
        return true;
      } catch (err) {
        if (!(err instanceof RateLimiterRes)) throw err;
        return false;
      }
    },
  };
}

export type OpenRouteLimiter = ReturnType<typeof createOpenRouteLimiter>;

type LimitedOperations = 'register' | 'requestPasswordReset' | 'requestEmailVerification' | 'verifyEmail' | 'resetPassword';

/** The account service as the self-service doors see it: every open route counted per client IP first. */
export function withOpenRouteLimits<A extends Pick<AccountService, LimitedOperations>>(accounts: A, limiter: Pick<OpenRouteLimiter, 'count'>): A {
  return {
    ...accounts,
    async register(...args: Parameters<AccountService['register']>) {
      await limiter.count('register', args[1].ip);
      return accounts.register(...args);
    },
    async requestPasswordReset(...args: Parameters<AccountService['requestPasswordReset']>) {
      await limiter.count('forgot_password', args[1].ip);
      return accounts.requestPasswordReset(...args);
    },
    async requestEmailVerification(...args: Parameters<AccountService['requestEmailVerification']>) {
      await limiter.count('resend_verification', args[1].ip);
      return accounts.requestEmailVerification(...args);
    },
    async verifyEmail(...args: Parameters<AccountService['verifyEmail']>) {
      await limiter.count('verify_email', args[1].ip);
      return accounts.verifyEmail(...args);
    },
    async resetPassword(...args: Parameters<AccountService['resetPassword']>) {
      await limiter.count('reset_password', args[2].ip);
      return accounts.resetPassword(...args);
    },
  };
}
