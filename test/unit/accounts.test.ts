import { expect } from 'chai';
import { compareRoleNames } from '../../src/services/accounts/view.ts';
import { createVerificationTokenService } from '../../src/services/verification-tokens.ts';
import { createMemoryStore } from '../../src/store/memory-store.ts';
import { AccountExistsError, InvalidCredentialsError } from '../../src/services/accounts/errors.ts';

describe('accounts: pure parts', () => {
  it('orders roles admin first, then by name', () => {
    expect(['pmc_admin', 'billing', 'admin', 'auditor'].sort(compareRoleNames)).to.deep.equal(['admin', 'auditor', 'billing', 'pmc_admin']);
  });

  it('uses the contract error codes and messages', () => {
    expect(new AccountExistsError('email')).to.include({ status: 400, code: 'AUTH_EMAIL_EXISTS', message: 'Email already registered' });
    expect(new AccountExistsError('username')).to.include({ status: 400, code: 'AUTH_USERNAME_EXISTS', message: 'Username already registered' });
    const invalid = new InvalidCredentialsError();
    expect(invalid).to.include({ status: 401, code: 'AUTH_INVALID_CREDENTIALS', message: 'Incorrect username or password' });
    expect(invalid.headers).to.deep.equal({ 'WWW-Authenticate': 'Bearer' });
  });
});

describe('verification tokens (src/services/verification-tokens.ts)', () => {
  let clock = 0;
  const store = createMemoryStore({ now: () => clock });
  const tokens = createVerificationTokenService({ store, ttlSeconds: { 'verify-email': 60, 'reset-password': 30 }, now: () => clock });

  beforeEach(() => {
    clock = Date.parse('2030-01-01T00:00:00Z');
  });

  it('gives out a token once: the first use returns its user and binding, any later use nothing', async () => {
    const token = await tokens.issue('verify-email', 'user-1', 'a@example.com');
    expect(token).to.match(/^[A-Za-z0-9_-]{43}$/);
    const results = await Promise.all([tokens.consume('verify-email', token), tokens.consume('verify-email', token)]);
    expect(results.filter(Boolean)).to.deep.equal([{ userId: 'user-1', binding: 'a@example.com' }]);
    expect(await tokens.consume('verify-email', token)).to.equal(undefined);
  });

  it('is bound to its purpose and expires', async () => {
    const token = await tokens.issue('reset-password', 'user-2', 'fp');
    expect(await tokens.consume('verify-email', token)).to.equal(undefined);
    clock += 31_000;
    expect(await tokens.consume('reset-password', token)).to.equal(undefined);
    expect(await tokens.consume('reset-password', 'not a token')).to.equal(undefined);
  });
});
