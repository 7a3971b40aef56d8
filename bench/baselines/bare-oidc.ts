/**
 * Baseline for the OIDC endpoints: oidc-provider with the product's own configuration
 * (src/oidc/provider.ts: the same features, claims, lifetimes and token formats — opaque access and
 * refresh tokens, RS256 ID tokens), the same signing keys (the bench database's) and our adapter on the
 * same Redis (under its own key prefix), but served bare by provider.listen(): none of our Koa app, its
 * middleware, the provider.use() additions (session link, POST→GET, outage pages) or hashed client
 * secrets. Accounts come from one indexed query (the user joined with its roles), with no cache.
 * Before listening it mints pools of refresh and access tokens and writes them to OUT_FILE.
 * Environment: PORT, DATABASE_URL, REDIS_URL, CLIENT_FILE (client metadata, plain secret),
 * ACCOUNTS_FILE (JSON array of user ids), OUT_FILE, ACCESS_TOKEN_TTL, REFRESH_TOKEN_TTL.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { ClientMetadata } from 'oidc-provider';
import { createSequelize } from '../../src/db/sequelize.ts';
import { initModels } from '../../src/db/models/index.ts';
import { createKeyService } from '../../src/services/keys.ts';
import { createSecretBox } from '../../src/services/secret-box.ts';
import { createRedisStore } from '../../src/store/redis-store.ts';
import { createOidcStorage } from '../../src/oidc/adapter.ts';
import { createProvider, maxAccessTokenTtl } from '../../src/oidc/provider.ts';
import { toAccountView } from '../../src/services/accounts/view.ts';
import { createLogger } from '../../src/logger.ts';
import { mintOidcTokens } from '../lib/oidc-mint.ts';
import { createI18n } from '../../src/services/i18n.ts';

const env = process.env;
const port = Number(env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const tokens = { accessTokenTtl: Number(env.ACCESS_TOKEN_TTL ?? 1800), refreshTokenTtl: Number(env.REFRESH_TOKEN_TTL ?? 2_592_000) };
const config = { issuer, tokens, oidc: { resources: {} }, trustProxy: false };

const sequelize = createSequelize({ url: env.DATABASE_URL ?? '' });
const models = initModels(sequelize);
const secretBox = env.KEY_ENCRYPTION_KEY ? createSecretBox(Buffer.from(env.KEY_ENCRYPTION_KEY, 'base64')) : undefined;
const keySet = await createKeyService({ models, maxTokenTtlSeconds: maxAccessTokenTtl(config), secretBox }).load();
const store = createRedisStore({ url: env.REDIS_URL ?? '', keyPrefix: 'bare:' });
await store.connect();
const storage = createOidcStorage({ store, clients: { find: async () => undefined }, maxAccessTokenTtlSeconds: maxAccessTokenTtl(config) });
const client = JSON.parse(readFileSync(env.CLIENT_FILE ?? '', 'utf8')) as ClientMetadata;

const provider = createProvider({
  config,
  jwks: keySet.jwks,
  cookieKeys: [randomBytes(32).toString('base64url')],
  storage,
  staticClients: [client],
  resources: { find: async () => undefined },
  accounts: {
    async getById(id: string) {
      const user = await models.User.findOne({ where: { id }, include: [{ association: 'roles' }] });
      return user ? toAccountView(user, user.roles ?? []) : undefined;
    },
  },
  pages: { render: async (_name, locals) => `<!doctype html><title>${locals.title}</title>` },
  i18n: createI18n({ locales: ['en'] }),
  logger: createLogger({ level: 'silent' }),
  sessionTtlSeconds: tokens.refreshTokenTtl,
});

const accountIds = JSON.parse(readFileSync(env.ACCOUNTS_FILE ?? '', 'utf8')) as string[];
const pools = await mintOidcTokens(provider, { accountIds, clientId: String(client.client_id) });
writeFileSync(env.OUT_FILE ?? '', JSON.stringify(pools));
provider.listen(port);
process.on('SIGTERM', () => process.exit(0));
