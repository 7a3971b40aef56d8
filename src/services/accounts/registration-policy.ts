/**
 * REGISTRATION=closed (CONTRACT §1): no self-service sign-up at any door (the legacy APIs, the login page).
 * Admins still create users (admin API, console, CLI), which do not go through this wrapper.
 */
import { AppError } from '../../errors.ts';
import type { AccountService } from './accounts.ts';

export type RegistrationMode = 'open' | 'closed';

export class RegistrationClosedError extends AppError {
  constructor() {
    super(403, 'AUTH_REGISTRATION_CLOSED', 'Registration is closed');
  }
}

export function withRegistrationPolicy<A extends Pick<AccountService, 'register'>>(accounts: A, mode: RegistrationMode): A {
  if (mode === 'open') return accounts;
  return {
    ...accounts,
    register(): Promise<never> {
      // Refused before the open-route limits count it and before any hashing.
      return Promise.reject(new RegistrationClosedError());
    },
  };
}
