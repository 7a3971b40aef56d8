import type { Config } from '../config.ts';
import type { SigningAlg } from '../services/keys.ts';
import type { Print } from './migrate.ts';
import { withCliServices } from './services.ts';

export type RotateAlg = SigningAlg | 'both';

/** `keys:rotate`: adds a signing key per algorithm; it signs from the next start, old keys stay published. */
export async function runRotateKeysCommand(config: Config, options: { alg?: RotateAlg } = {}, print: Print = console.log): Promise<string[]> {
  return withCliServices(config, async (deps) => {
    const kids = await deps.keys.rotate(options.alg ?? 'both');
    print(`Added signing key(s) ${kids.join(', ')}; they sign from the next start, older keys stay published until their tokens expire.`);
    return kids;
  });
}
