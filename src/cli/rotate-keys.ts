import type { Config } from '../config.ts';
import { initModels } from '../db/models/index.ts';
import { createKeyService } from '../services/keys.ts';
import { createSecretBox } from '../services/secret-box.ts';
import { maxAccessTokenTtl } from '../oidc/provider.ts';
import type { SigningAlg } from '../services/keys.ts';
import { withDatabase } from './database.ts';
import type { Print } from './migrate.ts';

export type RotateAlg = SigningAlg | 'both';

/** `keys:rotate`: adds a signing key per algorithm; it signs from the next start, old keys stay published. */
export async function runRotateKeysCommand(
  config: Pick<Config, 'database' | 'tokens' | 'keyEncryptionKey' | 'oidc' | 'compatProfiles'>,
  options: { alg?: RotateAlg } = {},
  print: Print = console.log,
): Promise<string[]> {
  return withDatabase(config, async (sequelize) => {
    // The same retention as the server's: a 24-h auth-service token outlives the 30-min default.
    const keys = createKeyService({
      models: initModels(sequelize),
      maxTokenTtlSeconds: maxAccessTokenTtl(config),
      secretBox: config.keyEncryptionKey ? createSecretBox(config.keyEncryptionKey) : undefined,
    });
    const kids = await keys.rotate(options.alg ?? 'both');
    print(`Added signing key(s) ${kids.join(', ')}; they sign from the next start, older keys stay published until their tokens expire.`);
    return kids;
  });
}
