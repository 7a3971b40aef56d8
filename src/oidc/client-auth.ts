/**
 * Every client secret the provider holds is a hash (clients.ts), so client authentication compares the
 * presented secret against it. `compareClientSecret` is the one place oidc-provider compares secrets
 * (client_secret_basic and client_secret_post); HMAC-based methods are disabled in provider.ts.
 */
import type Provider from 'oidc-provider';
import type { PasswordService } from '../services/passwords.ts';
import { verifyClientSecret } from './client-secrets.ts';

interface ClientWithSecret {
  clientSecret?: string;
}

export function useHashedClientSecrets(provider: Provider, passwords?: Pick<PasswordService, 'verify'>): void {
  const prototype = provider.Client.prototype as unknown as { compareClientSecret(this: ClientWithSecret, actual: string): Promise<boolean> };
  prototype.compareClientSecret = function compareClientSecret(this: ClientWithSecret, actual: string): Promise<boolean> {
    return verifyClientSecret(actual, this.clientSecret, passwords);
  };
}
