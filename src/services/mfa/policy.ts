/**
 * MFA_POLICY (CONTRACT §1, §9): `optional` (the default), `required` (everyone), or `roles:a,b` (users
 * holding one of those roles must use a second factor). Parsed and checked with the configuration.
 */
import type { MfaPolicy } from '../../config.ts';

export type { MfaPolicy } from '../../config.ts';

/** Whether the policy demands a second factor of a user with these roles. */
export function policyRequiresFactor(policy: MfaPolicy, roles: readonly string[]): boolean {
  if (policy.kind === 'required') return true;
  if (policy.kind === 'roles') return roles.some((role) => policy.roles.includes(role));
  return false;
}
