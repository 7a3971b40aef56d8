/**
 * The errors of the second-factor services (CONTRACT §9). Codes are stable (the envelope profile shows
 * them); messages are the `detail` strings clients read.
 */
import { AppError } from '../../errors.ts';

export type MfaMethod = 'totp' | 'recovery_code' | 'passkey';

/** The password was right and a second factor must follow: the door shows the challenge in its own shape. */
export class MfaRequiredError extends AppError {
  readonly mfaToken: string;
  readonly methods: MfaMethod[];
  constructor(mfaToken: string, methods: MfaMethod[]) {
    super(401, 'AUTH_MFA_REQUIRED', 'MFA required', { headers: { 'WWW-Authenticate': 'Bearer' } });
    this.mfaToken = mfaToken;
    this.methods = methods;
  }
}

/** MFA_POLICY demands a factor the user has not enrolled yet. */
export class MfaEnrolmentRequiredError extends AppError {
  constructor() {
    super(403, 'AUTH_MFA_ENROLMENT_REQUIRED', 'MFA enrolment required');
  }
}

/** A wrong, replayed or malformed TOTP or recovery code. */
export class InvalidMfaCodeError extends AppError {
  constructor(status: 400 | 401 = 401) {
    super(status, 'AUTH_MFA_INVALID_CODE', 'Invalid code', status === 401 ? { headers: { 'WWW-Authenticate': 'Bearer' } } : {});
  }
}

/** An unknown, expired, used or exhausted mfa_token. */
export class InvalidMfaTokenError extends AppError {
  constructor() {
    super(401, 'AUTH_MFA_INVALID_TOKEN', 'Invalid or expired MFA token', { headers: { 'WWW-Authenticate': 'Bearer' } });
  }
}

export class TotpAlreadyEnabledError extends AppError {
  constructor() {
    super(409, 'AUTH_MFA_TOTP_EXISTS', 'TOTP already enabled');
  }
}

export class TotpNotStartedError extends AppError {
  constructor() {
    super(400, 'AUTH_MFA_TOTP_NOT_STARTED', 'TOTP enrolment not started');
  }
}

export class TotpNotEnabledError extends AppError {
  constructor() {
    super(404, 'AUTH_MFA_TOTP_NOT_ENABLED', 'TOTP not enabled');
  }
}

export class NoSecondFactorError extends AppError {
  constructor() {
    super(400, 'AUTH_MFA_NONE', 'No second factor enrolled');
  }
}

export class IncorrectMfaPasswordError extends AppError {
  constructor() {
    super(400, 'AUTH_INCORRECT_PASSWORD', 'Incorrect password');
  }
}

/**
 * MFA_POLICY requires a second factor of this user and this is their last one (TOTP or passkey): it may
 * go only once another is enrolled (CONTRACT §10). The admin's removal of everything is not refused.
 */
export class LastFactorError extends AppError {
  constructor() {
    super(409, 'AUTH_MFA_LAST_FACTOR', 'A second factor is required for this account: enrol another one before removing the last');
  }
}

export class PasskeyNotFoundError extends AppError {
  constructor() {
    super(404, 'AUTH_PASSKEY_NOT_FOUND', 'Passkey not found');
  }
}

/** A passkey name that is empty, longer than 64 characters or holds control characters. */
export class InvalidPasskeyNameError extends AppError {
  constructor(message: string) {
    super(422, 'AUTH_PASSKEY_NAME_INVALID', message);
  }
}
