import type { Config } from '../../config.ts';
import type { Logger } from '../../logger.ts';
import type { Models } from '../../db/models/index.ts';
import type { UserQueries } from '../../db/queries/users.ts';
import type { Store } from '../../store/store.ts';
import type { KeyService, KeySet } from '../keys.ts';
import type { PasswordService } from '../passwords.ts';
import type { LoginRateLimiter } from '../rate-limits.ts';
import type { OpenRouteLimiter } from '../open-route-limits.ts';
import { createAuditService } from '../audit.ts';
import { createSessionService } from '../sessions.ts';
import { createTokenService } from '../tokens.ts';
import { createMailService } from '../mail.ts';
import { createMailQueue } from './mail.ts';
import { createVerificationTokenService } from '../verification-tokens.ts';
import { createAccountService } from './accounts.ts';
import { createAccountCache, invalidateOnWrites } from './cache.ts';

/** Lifetimes of the links we e-mail: a day to confirm an address, an hour to use a reset link (OWASP). */
export const LINK_TTL_SECONDS = { verifyEmail: 24 * 3600, resetPassword: 3600 };

export interface AccountServicesInput {
  config: Config;
  logger: Logger;
  /** The account cache hooks onto the models' writes. */
  models: Models;
  /** The users table as plain rows, for the account service. */
  users: UserQueries;
  store: Store;
  keys: KeyService;
  /** The key set loaded once at start for both doors. */
  keySet: KeySet;
  passwords: PasswordService;
  /** Brute-force limits on every password check (CONTRACT §6). */
  loginLimiter: LoginRateLimiter;
  /** The open routes' limits; the account service asks it before every mail (per-address allowance). */
  openRouteLimiter: OpenRouteLimiter;
}

/** Builds the account, session, token, mail and audit services, wired to each other (called by dependencies.ts). */
export function createAccountServices(input: AccountServicesInput) {
  const { config, logger, store } = input;
  const audit = createAuditService({ models: input.models, logger });
  // A password session lives as long as its refresh token; each refresh moves both forward.
  const sessions = createSessionService({ store, defaultTtlSeconds: config.tokens.refreshTokenTtl });
  const tokens = createTokenService({
    loadKeys: () => input.keys.load(),
    signingKeys: input.keySet,
    store,
    sessions,
    audit,
    issuer: config.issuer,
    accessTokenTtlSeconds: config.tokens.accessTokenTtl,
    refreshTokenTtlSeconds: config.tokens.refreshTokenTtl,
    refreshReuseIntervalSeconds: config.refreshReuseInterval,
  });
  const mail = createMailService({ smtpUrl: config.mail.smtpUrl, from: config.mail.from, outboxDir: config.mail.outboxDir, logger });
  const mailQueue = createMailQueue((message) => mail.send(message), logger.child({ component: 'mail' }));
  const verificationTokens = createVerificationTokenService({
    store,
    ttlSeconds: { 'verify-email': LINK_TTL_SECONDS.verifyEmail, 'reset-password': LINK_TTL_SECONDS.resetPassword },
  });
  const accounts = createAccountService({
    users: input.users,
    passwords: input.passwords,
    sessions,
    audit,
    verificationTokens,
    mail: mailQueue,
    linkTtlSeconds: LINK_TTL_SECONDS,
    logger,
    loginLimiter: input.loginLimiter,
    mailLimiter: input.openRouteLimiter,
  });
  // getById is on every bearer request and OIDC userinfo/refresh: served from the store, exact (accounts/cache.ts).
  const accountCache = createAccountCache({ store, logger });
  invalidateOnWrites(input.models, accountCache);
  const getById = (id: string) => accountCache.get(id, (userId) => accounts.getById(userId, { fresh: true }));
  return { audit, sessions, tokens, mail, mailQueue, verificationTokens, accounts: { ...accounts, getById } };
}

export type AccountServices = ReturnType<typeof createAccountServices>;
