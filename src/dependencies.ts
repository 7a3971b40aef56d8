/**
 * The composition root: the one place that constructs clients and services from the configuration.
 * Nothing else connects to anything; tests build the same graph with their own configuration.
 */
import type { Sequelize } from 'sequelize';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import { createSequelize, checkDatabase, isConnectionError } from './db/sequelize.ts';
import { initModels, type Models } from './db/models/index.ts';
import { createUserQueries, type UserQueries } from './db/queries/users.ts';
import type { Store } from './store/store.ts';
import { createMemoryStore } from './store/memory-store.ts';
import { createRedisStore } from './store/redis-store.ts';
import { createKeyService, type KeyService, type KeySet } from './services/keys.ts';
import { createSecretBox, type SecretBox } from './services/secret-box.ts';
import { createPasswordService, type PasswordHashingOptions, type PasswordService } from './services/passwords.ts';
import { loadOrCreateCookieKeys } from './services/local-secrets.ts';
import { createAuditService, type AuditService } from './services/audit.ts';
import { createSessionService, type SessionService } from './services/sessions.ts';
import { createTokenService } from './services/tokens.ts';
import { createMailService } from './services/mail.ts';
import { createMailQueue } from './services/accounts/mail.ts';
import { createVerificationTokenService } from './services/verification-tokens.ts';
import { createAccountService, type AccountService } from './services/accounts/accounts.ts';
import { createAccountCache, invalidateOnWrites } from './services/accounts/cache.ts';
import { createRoleService, type RoleService } from './services/roles.ts';
import { createResourceRegistry, type ResourceRegistry } from './services/resources.ts';
import { createOidc, type Oidc } from './oidc/index.ts';
import type { SessionLink } from './oidc/session-link.ts';
import type { BackchannelLogout } from './oidc/backchannel-logout.ts';
import type { DeliverySchedule } from './oidc/backchannel-delivery.ts';
import { maxAccessTokenTtl } from './oidc/provider.ts';
import { scheduleDynamicClientCleanup } from './oidc/dynamic-clients.ts';
import { createViews, type Views } from './http/interactions/views.ts';
import { createI18n, type I18n } from './services/i18n.ts';
import { withRegistrationPolicy } from './services/accounts/registration-policy.ts';
import { createMetrics, type Metrics } from './services/metrics.ts';
import { instrumentAccounts, instrumentTokens, observeProvider } from './services/metrics-instrument.ts';
import { createLoginRateLimiter, type LoginLimits, type LoginRateLimiter } from './services/rate-limits.ts';
import { createOpenRouteLimiter, withOpenRouteLimits, type OpenRouteLimiter, type OpenRouteLimits } from './services/open-route-limits.ts';
import { dependencyOf } from './http/metrics.ts';
import { ServerBusyError, ServiceUnavailableError } from './errors.ts';
import type { ReadinessCheck } from './http/health.ts';
import { createMfaService, type AttemptGuard, type MfaService } from './services/mfa/factors.ts';
import { createMfaTokenService } from './services/mfa/mfa-tokens.ts';
import { createMfaLogin, type MfaLogin } from './services/mfa/mfa-login.ts';
import { createPendingLoginService, type PendingLoginService } from './services/mfa/pending-logins.ts';
import { createPasskeyService, type PasskeyService } from './services/mfa/passkeys.ts';
import { boxedSecrets, unsealedSecrets, type SecretSealer } from './services/mfa/secrets.ts';
import type { ErrorTranslator } from './http/middleware/errors.ts';
import { securePrivateDir } from './private-files.ts';
import { sealSigningKeys } from './db/signing-key-sealing.ts';
import { createUserImporter } from './services/admin/import.ts';
import { createAdminAccounts, type AdminAccounts } from './services/admin/accounts.ts';
import { createRegistration } from './services/accounts/registration.ts';
import type { AdminServices } from './services/admin/index.ts';
import { createAdminAuditService } from './services/admin/audit.ts';
import { createAdminUserService } from './services/admin/users.ts';
import { createAdminRoleService } from './services/admin/roles.ts';
import { createAdminOrganizationService } from './services/admin/organizations.ts';
import { createAdminClientService, type AdminClientServiceOptions } from './services/admin/clients.ts';
import { createAdminResourceService, type AdminResourceServiceOptions } from './services/admin/resources.ts';
import { createAdminInitialAccessTokenService, type AdminInitialAccessTokenOptions } from './services/admin/initial-access-tokens.ts';
import { createAdminMfaService } from './services/admin/mfa.ts';
import { createFirstPartySessions, type FirstPartySessions } from './services/first-party-sessions.ts';
import { FIRST_PARTY_CLIENT_IDS } from './services/first-party-clients.ts';
import { loadClientsFile } from './oidc/clients.ts';
import { createClientValidator } from './http/admin/index.ts';
import type { JsonObject } from './json.ts';
import { createUserGrants, type UserGrantService } from './oidc/user-grants.ts';
import type { UserGrants } from './services/user-grants.ts';
import { createAdminGrantService } from './services/admin/grants.ts';
import { createConnectedApps, type ConnectedApps } from './services/accounts/connected-apps.ts';
import { createUserDeletion, type DeleteUser } from './services/accounts/user-deletion.ts';
import { createAccountDeletion, type AccountDeletion } from './services/accounts/account-deletion.ts';
import { createEmailChangeService, EMAIL_CHANGE_PURPOSE, EMAIL_CHANGE_TTL_SECONDS, type EmailChangeService } from './services/accounts/email-change.ts';

/**
 * The migrations and umzug are loaded only by a process that migrates (MIGRATE_ON_START, the CLI): a server
 * started without them would otherwise carry their code (about 4.6 MB of heap) for its whole life, marked by
 * every major garbage collection (bench/README.md).
 */
const migrations = () => import('./db/migrate.ts');

export interface Dependencies {
  config: Config;
  logger: Logger;
  sequelize: Sequelize;
  models: Models;
  store: Store;
  keys: KeyService;
  /** Seals secrets at rest with KEY_ENCRYPTION_KEY; undefined when the key is not set (outside production). */
  secretBox?: SecretBox;
  passwords: PasswordService;
  /** Account, session, token, mail and audit services shared by every door. */
  accounts: AccountServices['accounts'];
  /** The account service of the self-service doors (legacy profiles): the open routes' per-IP limits on top. */
  selfService: AccountServices['accounts'];
  sessions: AccountServices['sessions'];
  tokens: AccountServices['tokens'];
  audit: AccountServices['audit'];
  mail: AccountServices['mail'];
  /** Mail sent in the background; settle() waits for it (tests, shutdown). */
  mailQueue: AccountServices['mailQueue'];
  roles: RoleService;
  /** Registered RFC 8707 resources: OIDC_RESOURCES and the resources table. */
  resources: ResourceRegistry;
  /** The OpenID Connect provider, its storage and its link to the shared session list. */
  oidc: Oidc;
  /** The admin API's and console's services (users, roles, organizations, clients, admin audit). */
  admin: AdminServices;
  /** The admin console's sign-in sessions. */
  adminConsoleSessions: FirstPartySessions;
  /** The account pages' sign-in sessions. */
  accountPageSessions: FirstPartySessions;
  /** A user's grants to applications (list, revoke one; `onGrantRevoked` for back-channel logout). */
  userGrants: UserGrantService;
  /** The account pages' "Connected apps": the user's own grants, revocation audited. */
  connectedApps: ConnectedApps;
  /** Changing one's e-mail address through a link mailed to the new one (CONTRACT §10). */
  emailChange: EmailChangeService;
  /** A user deleting their own account (password and second factor), the same deletion as the admin's. */
  accountDeletion: AccountDeletion;
  /** The ejs pages (interaction pages and the provider's own). */
  views: Views;
  /** The pages' and mails' languages (CONTRACT §4). */
  i18n: I18n;
  /** This server's Prometheus metrics (its own registry). */
  metrics: Metrics;
  /** Brute-force limits on password checks; `accounts.authenticate` and `changePassword` already go through them. */
  loginLimiter: LoginRateLimiter;
  /** Limits of the other open routes (registration, mail, e-mailed links) and the mails per address. */
  openRouteLimiter: OpenRouteLimiter;
  /** Second factors (CONTRACT §9): enrolment, removal, status... */
  mfa: MfaService;
  /** ...and the step after the password, for every door. */
  mfaLogin: MfaLogin;
  /** Login page sign-ins between the password and the second factor. */
  pendingLogins: PendingLoginService;
  /** WebAuthn registration and sign-in (relying party: PUBLIC_URL's host). */
  passkeys: PasskeyService;
  cookieKeys: string[];
  readiness: ReadinessCheck[];
  errorTranslators: ErrorTranslator[];
  /** Closes the database and the store; safe to call twice. */
  close(): Promise<void>;
}

/**
 * The hooks that follow a revoked session across layers, connected here by name so they can be seen
 * (back-channel logout and audit listeners join them here). A failing link fails the revocation, and
 * the session stays so the caller can retry: a session reported ended must not keep grants alive.
 */
export function wireSessionHooks(
  sessions: Pick<SessionService, 'onRevoke' | 'onRevokeAll'>,
  oidcLink: Pick<SessionLink, 'sessionRevoked' | 'userSessionsRevoked'>,
  backchannel?: Pick<BackchannelLogout, 'sessionEnding' | 'sessionEnded'>,
): void {
  // Back-channel logout reads the clients of the SSO session before the link destroys it (never throws)...
  if (backchannel) sessions.onRevoke(backchannel.sessionEnding);
  // A revoked shared session of kind `oidc` ends its SSO session and the grants made in it.
  sessions.onRevoke(oidcLink.sessionRevoked);
  // ...and queues their logout tokens only once the link has succeeded (fire and forget, never throws).
  if (backchannel) sessions.onRevoke(backchannel.sessionEnded);
  // revokeAll (password change, deactivation, "log out everywhere") revokes every grant of the user.
  sessions.onRevokeAll(oidcLink.userSessionsRevoked);
}

/** How long shutdown waits for back-channel logout deliveries (retries coming due meanwhile included); the rest are given up, audited. */
const BACKCHANNEL_SHUTDOWN_MS = 5000;

/** Lifetimes of the links we e-mail: a day to confirm an address, an hour to use a reset link (OWASP). */
const LINK_TTL_SECONDS = { verifyEmail: 24 * 3600, resetPassword: 3600 };

interface AccountServicesInput {
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
  /** The mails' languages. */
  i18n: I18n;
}

/** The account, session, token, mail and audit services, wired to each other. */
function buildAccountServices(input: AccountServicesInput) {
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
    registration: createRegistration({ users: input.users, passwords: input.passwords, audit }),
    passwords: input.passwords,
    sessions,
    audit,
    verificationTokens,
    mail: mailQueue,
    linkTtlSeconds: LINK_TTL_SECONDS,
    logger,
    loginLimiter: input.loginLimiter,
    mailLimiter: input.openRouteLimiter,
    i18n: input.i18n,
  });
  // getById is on every bearer request and OIDC userinfo/refresh: served from the store, exact (accounts/cache.ts).
  const accountCache = createAccountCache({ store, logger });
  invalidateOnWrites(input.models, accountCache);
  const getById = (id: string) => accountCache.get(id, (userId) => accounts.getById(userId, { fresh: true }));
  return { audit, sessions, tokens, mail, mailQueue, verificationTokens, accounts: { ...accounts, getById } };
}

type AccountServices = ReturnType<typeof buildAccountServices>;

interface AdminServicesInput {
  models: Models;
  sequelize: Sequelize;
  accounts: AccountService;
  sessions: SessionService;
  audit: Pick<AuditService, 'record'>;
  /** ADMIN_ROLE: the role that grants the admin API and console. */
  adminRole: string;
  /** Deleting a user (shared with the user's own deletion). */
  deleteUser: DeleteUser;
  /** Second factors (CONTRACT §7 `/users/:id/mfa`). */
  mfa: Pick<MfaService, 'status' | 'removeAll'>;
  /** Grants to applications (CONTRACT §7 `/users/:id/grants`), kept by the OIDC side. */
  grants: Pick<UserGrants, 'list' | 'revoke'>;
  /** Client metadata validation by the provider (see services/admin/clients.ts). */
  validateClient: (metadata: JsonObject) => Promise<void>;
  fileClients?: AdminClientServiceOptions['fileClients'];
  protectedClientIds?: AdminClientServiceOptions['protectedClientIds'];
  resources: Pick<AdminResourceServiceOptions, 'registry' | 'maxAccessTokenTtl' | 'isConfidentialClient'>;
  initialAccessTokens: Pick<AdminInitialAccessTokenOptions, 'enabled' | 'mint'>;
}

/** The admin API's and console's services, over the shared ones. */
function buildAdminServices(input: AdminServicesInput): AdminServices {
  const { models, sequelize } = input;
  const audit = createAdminAuditService({ models, audit: input.audit });
  const users = createAdminUserService({ models, sequelize, accounts: input.accounts, sessions: input.sessions, adminAudit: audit, adminRole: input.adminRole, deleteUser: input.deleteUser });
  return {
    audit,
    users,
    mfa: createAdminMfaService({ mfa: input.mfa, requireUser: (id) => users.get(id) }),
    grants: createAdminGrantService({ grants: input.grants, requireUser: (id) => users.get(id), adminAudit: audit }),
    roles: createAdminRoleService({ models, adminAudit: audit, adminRole: input.adminRole }),
    organizations: createAdminOrganizationService({ models, sequelize, adminAudit: audit }),
    clients: createAdminClientService({
      models,
      adminAudit: audit,
      validate: input.validateClient,
      fileClients: input.fileClients,
      protectedClientIds: input.protectedClientIds,
    }),
    resources: createAdminResourceService({ models, adminAudit: audit, ...input.resources }),
    initialAccessTokens: createAdminInitialAccessTokenService({ adminAudit: audit, ...input.initialAccessTokens }),
  };
}

async function createStore(config: Config, logger: Logger, keyPrefix: string): Promise<Store> {
  if (config.redis.embedded) return createMemoryStore();
  const store = createRedisStore({
    url: config.redis.url,
    clusterNodes: config.redis.clusterNodes.length ? config.redis.clusterNodes : undefined,
    keyPrefix,
    logger: logger.child({ component: 'store' }),
  });
  await store.connect();
  return store;
}

export interface BuildOptions {
  /** Prefix of every store key; tests give each server its own so they can share one Redis. */
  storeKeyPrefix?: string;
  /** Overrides of the login limits (tests that need short blocks); CONTRACT §6 values by default. */
  loginLimits?: Partial<LoginLimits>;
  /** Overrides of the open routes' limits (tests from one address); CONTRACT §6 values by default. */
  openRouteLimits?: Partial<OpenRouteLimits>;
  /** The password-hash queue (tests inject a slow engine or a small queue); sized from UV_THREADPOOL_SIZE by default. */
  passwordHashing?: PasswordHashingOptions;
  /** How factor secrets are sealed at rest (default: the secret box under KEY_ENCRYPTION_KEY, as they are without the key). */
  factorSecrets?: SecretSealer;
  /** Back-channel logout retries (tests shorten them); CONTRACT §4's 3 attempts within a minute by default. */
  backchannelSchedule?: Partial<DeliverySchedule>;
}

export async function buildDependencies(config: Config, logger: Logger, options: BuildOptions = {}): Promise<Dependencies> {
  // A data folder left by an older version (0755, files 0644) becomes private before anything reads it. A
  // configuration that keeps nothing there (PostgreSQL, COOKIE_KEYS, SMTP) does not touch it.
  const usesDataDir = config.database.embedded || !config.cookieKeys || !config.mail.smtpUrl;
  if (usesDataDir) securePrivateDir(config.dataDir);
  const secretBox = config.keyEncryptionKey ? createSecretBox(config.keyEncryptionKey) : undefined;
  const sequelize = createSequelize({
    url: config.database.url,
    readUrls: config.database.readUrls,
    logger: logger.child({ component: 'db' }),
  });
  const closers: (() => Promise<void>)[] = [() => sequelize.close()];
  const close = async () => {
    const pending = closers.splice(0).reverse();
    for (const closeOne of pending) await closeOne().catch((err: unknown) => logger.warn({ err }, 'error while closing'));
  };
  try {
    await sequelize.authenticate();
    if (config.database.migrateOnStart) {
      // Migrations read back what they have just written (their own bookkeeping table): with read
      // replicas those reads would go to a replica that may not have it yet, so they run on the primary alone.
      const primary = config.database.readUrls.length ? createSequelize({ url: config.database.url, poolMax: 2 }) : sequelize;
      try {
        await (await migrations()).runMigrations(primary, { sealer: secretBox });
      } finally {
        if (primary !== sequelize) await primary.close();
      }
    }
    const models = initModels(sequelize);
    const store = await createStore(config, logger, options.storeKeyPrefix ?? 'idp:');
    closers.push(() => store.close());

    const keys = createKeyService({
      models,
      // JWTs signed by a key: access tokens (resource ones included) and ID tokens; refresh tokens are opaque.
      maxTokenTtlSeconds: maxAccessTokenTtl(config),
      secretBox,
    });
    await keys.ensureKeys();
    // Loaded once for both doors, so legacy tokens and oidc-provider sign with the same keys even if a
    // rotation lands while the process starts.
    const keySet = await keys.load();

    const passwords = createPasswordService(config.argon2, { threads: config.hashThreads, ...options.passwordHashing });
    const errorTranslators: ErrorTranslator[] = [
      (err) => (isConnectionError(err) ? new ServiceUnavailableError('database', err) : undefined),
    ];
    const isUnavailable = (err: unknown): boolean =>
      err instanceof ServiceUnavailableError || errorTranslators.some((translate) => translate(err) instanceof ServiceUnavailableError);
    // Read at every scrape, long after the audit service below exists.
    const metrics = createMetrics({ auditFailures: () => accountServices.audit.failures() });
    // Brute-force limits around every password check, whichever door asks (a check that did not happen,
    // because a dependency was down or the hash queue full, is not counted).
    const loginLimiter = createLoginRateLimiter({
      store,
      metrics,
      limits: options.loginLimits,
      isOutage: (err) => err instanceof ServerBusyError || isUnavailable(err),
    });
    const openRouteLimiter = createOpenRouteLimiter({ store, metrics, limits: options.openRouteLimits });
    // The pages' and mails' languages (CONTRACT §4): catalogues read once, here.
    const i18n = createI18n({ locales: config.uiLocales });
    const accountServices = buildAccountServices({
      i18n,
      config,
      logger,
      models,
      users: createUserQueries({ sequelize, models }),
      store,
      keys,
      keySet,
      passwords,
      loginLimiter,
      openRouteLimiter,
    });
    closers.push(async () => {
      await accountServices.mailQueue.settle();
      accountServices.mail.close();
    });
    // Closers run last-in first-out: audit events still being written go in before the database closes.
    closers.push(() => accountServices.audit.flush());
    const roles = createRoleService({ models, adminRole: config.admin.role });
    const resources = createResourceRegistry({ models, configured: config.oidc.resources });
    const cookieKeys = config.cookieKeys ?? loadOrCreateCookieKeys(config.dataDir);

    const readiness: ReadinessCheck[] = [
      { name: 'database', check: () => checkDatabase(sequelize) },
      { name: 'store', check: () => store.ping() },
    ];
    const { sessions, audit, mail, mailQueue } = accountServices;
    // Logins and legacy tokens are counted at the service boundary, the same for every door; the
    // limits sit inside the counting, so a 429 is counted as a rate-limited login.
    const accounts = instrumentAccounts(accountServices.accounts, metrics);
    const selfService = withRegistrationPolicy(withOpenRouteLimits(accounts, openRouteLimiter), config.registration);
    const tokens = instrumentTokens(accountServices.tokens, metrics);
    // Second-factor codes and the passwords that guard factor changes count toward the login limits (§6).
    const guard: AttemptGuard = (attempt, check) => loginLimiter.guard(attempt, check);
    // TOTP seeds and passkey public keys sealed under KEY_ENCRYPTION_KEY (always set in production).
    const factorSecrets = options.factorSecrets ?? (secretBox ? boxedSecrets(secretBox) : unsealedSecrets);
    const mfa = createMfaService({
      models,
      sequelize,
      secrets: factorSecrets,
      passwords,
      audit,
      issuerName: new URL(config.publicUrl).hostname,
      guard,
      policy: config.mfaPolicy,
    });
    const passkeys = createPasskeyService({
      models,
      store,
      secrets: factorSecrets,
      audit,
      publicUrl: config.publicUrl,
      rpName: new URL(config.publicUrl).hostname,
    });
    const mfaLogin = createMfaLogin({ mfa, mfaTokens: createMfaTokenService({ store }), policy: config.mfaPolicy, guard });
    const views = createViews({ i18n });
    const oidc = await createOidc({
      config,
      logger,
      store,
      models,
      keySet,
      passwords,
      accounts,
      sessions,
      audit,
      resources,
      cookieKeys,
      pages: views,
      i18n,
      isUnavailable,
      backchannel: { schedule: options.backchannelSchedule, registry: metrics.registry },
    });
    // Runs before the audit flush (closers are last-in first-out): abandoned retries are audited too.
    closers.push(() => oidc.backchannel.close(BACKCHANNEL_SHUTDOWN_MS));
    // Also when registration has been turned off since: the clients it made still age out.
    const stopCleanup = scheduleDynamicClientCleanup(models, logger.child({ component: 'oidc' }));
    closers.push(async () => stopCleanup());
    observeProvider(oidc.provider, metrics, (err) => dependencyOf(err, errorTranslators));
    wireSessionHooks(sessions, oidc.sessionLink, oidc.backchannel);
    const { provider } = oidc;
    const userGrants = createUserGrants({ provider, storage: oidc.storage, store, sessions, grantTtlSeconds: config.tokens.refreshTokenTtl, logger });
    userGrants.trackUse();
    // A grant revoked on its own (account page, admin API) tells its client by back-channel logout.
    userGrants.onGrantRevoked(oidc.backchannel.grantRevoked);
    const connectedApps = createConnectedApps({ grants: userGrants, audit });
    const deleteUser = createUserDeletion({ models, sequelize, sessions });
    const accountDeletion = createAccountDeletion({ models, passwords, loginLimiter, mfa, passkeys, deleteUser, audit, adminRole: config.admin.role });
    const emailChange = createEmailChangeService({
      models,
      tokens: createVerificationTokenService({ store, ttlSeconds: { [EMAIL_CHANGE_PURPOSE]: EMAIL_CHANGE_TTL_SECONDS } }),
      mail: mailQueue,
      mailLimiter: openRouteLimiter,
      audit,
      i18n,
    });
    const admin = buildAdminServices({
      models,
      sequelize,
      accounts,
      sessions,
      audit,
      adminRole: config.admin.role,
      deleteUser,
      mfa,
      grants: userGrants,
      // Client metadata is validated by oidc-provider itself, so the admin doors accept exactly what it will load.
      validateClient: createClientValidator(provider),
      fileClients: config.oidc.clientsFile ? (loadClientsFile(config.oidc.clientsFile) as unknown as JsonObject[]) : [],
      protectedClientIds: FIRST_PARTY_CLIENT_IDS,
      resources: {
        registry: resources,
        maxAccessTokenTtl: maxAccessTokenTtl(config),
        async isConfidentialClient(clientId: string) {
          const client = await provider.Client.find(clientId).catch(() => undefined);
          return client !== undefined && client.clientAuthMethod !== 'none';
        },
      },
      initialAccessTokens: {
        enabled: oidc.registration.mode === 'token',
        mint: (expiresIn) => oidc.registration.issueInitialAccessToken(provider, expiresIn),
      },
    });
    const adminConsoleSessions = createFirstPartySessions({ store, keyPrefix: 'admin-console' });
    const accountPageSessions = createFirstPartySessions({ store, keyPrefix: 'account-pages' });
    return { config, logger, sequelize, models, store, keys, secretBox, passwords, accounts, selfService, sessions, tokens, audit, mail, mailQueue, roles, resources, oidc, admin, adminConsoleSessions, accountPageSessions, userGrants, connectedApps, emailChange, accountDeletion, views, i18n, metrics, loginLimiter, openRouteLimiter, mfa, mfaLogin, pendingLogins: createPendingLoginService({ store }), passkeys, cookieKeys, readiness, errorTranslators, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** What the commands that work on the database alone need (migrate, keys:rotate, import-users, create-admin): no store, provider or HTTP. */
export interface CliDependencies {
  config: Config;
  logger: Logger;
  keys: KeyService;
  roles: RoleService;
  audit: AuditService;
  importer: ReturnType<typeof createUserImporter>;
  /** create-admin: promotes a user, or registers a verified admin (no store needed). */
  adminAccounts: AdminAccounts;
  /** Applies pending migrations, then seals the signing keys still in plaintext when KEY_ENCRYPTION_KEY is set. */
  migrate(): Promise<{ applied: string[]; sealed: number }>;
  /** Writes the audit events still queued and closes the database; safe to call twice. */
  close(): Promise<void>;
}

export interface CliBuildOptions {
  /** Users per transaction of import-users (tests use small batches). */
  importBatchSize?: number;
}

/**
 * The same root for one command, without the store, the provider and the HTTP side: the database, its
 * models and the services the command needs. Nothing connects until a service is used.
 */
export function buildCliDependencies(config: Config, logger: Logger, options: CliBuildOptions = {}): CliDependencies {
  // Commands only write: replicas are not needed, and two connections cover the migration lock.
  const sequelize = createSequelize({ url: config.database.url, poolMax: 2 });
  const models = initModels(sequelize);
  const secretBox = config.keyEncryptionKey ? createSecretBox(config.keyEncryptionKey) : undefined;
  // The same retention as the server's: a 24-h auth-service token outlives the 30-min default.
  const keys = createKeyService({ models, maxTokenTtlSeconds: maxAccessTokenTtl(config), secretBox });
  const roles = createRoleService({ models, adminRole: config.admin.role });
  const audit = createAuditService({ models, logger });
  const importer = createUserImporter({ models, sequelize, roles, batchSize: options.importBatchSize });
  const users = createUserQueries({ sequelize, models });
  const passwords = createPasswordService(config.argon2, { threads: config.hashThreads });
  const adminAccounts = createAdminAccounts({ registration: createRegistration({ users, passwords, audit }), users, roles, audit });
  let closed: Promise<void> | undefined;
  return {
    config,
    logger,
    keys,
    roles,
    audit,
    importer,
    adminAccounts,
    async migrate() {
      const applied = await (await migrations()).runMigrations(sequelize, { sealer: secretBox });
      return { applied, sealed: secretBox ? await sealSigningKeys(sequelize, secretBox) : 0 };
    },
    close() {
      closed ??= audit.flush().then(() => sequelize.close());
      return closed;
    },
  };
}
