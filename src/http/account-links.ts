import type { Config } from '../config.ts';
import type { AccountLinks } from '../services/accounts/mail.ts';

/**
 * Links in mails sent from doors without pages of their own (admin, login page) point at the first legacy
 * mount's verify and reset pages (there are no others); none without a mount.
 */
export function firstMountLinks(config: Pick<Config, 'compatProfiles' | 'publicUrl'>): AccountLinks | undefined {
  const mount = config.compatProfiles[0];
  if (!mount) return undefined;
  const base = `${config.publicUrl}${mount.prefix}`;
  return {
    verifyEmail: (token) => `${base}/verify-email?token=${encodeURIComponent(token)}`,
    resetPassword: (token) => `${base}/reset-password?token=${encodeURIComponent(token)}`,
  };
}
