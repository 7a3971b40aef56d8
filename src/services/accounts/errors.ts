/**
 * The errors of the account, session and token services. Codes are stable (the `envelope` profile shows
 * them to clients); messages are the FastAPI `detail` strings of CONTRACT §3, which a door may replace
 * (the v2 profile says "Incorrect email or password").
 */
import { AppError, UnauthorizedError } from '../../errors.ts';

export class InvalidCredentialsError extends AppError {
  constructor(message = 'Incorrect username or password') {
    super(401, 'AUTH_INVALID_CREDENTIALS', message, { headers: { 'WWW-Authenticate': 'Bearer' } });
  }
}

export class AccountInactiveError extends AppError {
  constructor() {
    super(403, 'AUTH_INACTIVE', 'User account is not active');
  }
}

export class EmailNotVerifiedError extends AppError {
  constructor() {
    super(403, 'AUTH_EMAIL_NOT_VERIFIED', 'Email not verified');
  }
}

/** A taken e-mail or username, detected by the database's unique constraint. 400 as the originals; envelope says 409. */
export class AccountExistsError extends AppError {
  readonly field: 'email' | 'username';
  constructor(field: 'email' | 'username') {
    super(
      400,
      field === 'email' ? 'AUTH_EMAIL_EXISTS' : 'AUTH_USERNAME_EXISTS',
      field === 'email' ? 'Email already registered' : 'Username already registered',
    );
    this.field = field;
  }
}

export class IncorrectPasswordError extends AppError {
  constructor() {
    super(400, 'AUTH_INCORRECT_PASSWORD', 'Incorrect current password');
  }
}

/** Missing, bad, expired or revoked bearer token. */
export class InvalidAccessTokenError extends UnauthorizedError {
  constructor() {
    super('Could not validate credentials', 'AUTH_INVALID_TOKEN');
  }
}

/**
 * No usable `Authorization: Bearer …` header where FastAPI's `HTTPBearer` answered for the original
 * (CONTRACT §3 `missing_bearer`): before FastAPI 0.122 a 403 without WWW-Authenticate, "Not authenticated"
 * for a missing header and "Invalid authentication credentials" for another scheme; from 0.122 a 401.
 */
export class BearerMissingError extends AppError {
  constructor(status: 401 | 403, wrongScheme = false) {
    super(
      status,
      'AUTH_NOT_AUTHENTICATED',
      status === 403 && wrongScheme ? 'Invalid authentication credentials' : 'Not authenticated',
      status === 401 ? { headers: { 'WWW-Authenticate': 'Bearer' } } : {},
    );
  }
}

export class InvalidRefreshTokenError extends UnauthorizedError {
  constructor() {
    super('Invalid or expired refresh token', 'AUTH_INVALID_TOKEN');
  }
}

export class SessionNotFoundError extends AppError {
  constructor() {
    super(404, 'AUTH_SESSION_NOT_FOUND', 'Session not found');
  }
}

export class InvalidVerificationTokenError extends AppError {
  constructor(purpose: 'verify-email' | 'reset-password') {
    super(
      400,
      'AUTH_INVALID_VERIFICATION_TOKEN',
      purpose === 'verify-email' ? 'Invalid or expired verification token' : 'Invalid or expired reset token',
    );
  }
}

export class EmailAlreadyVerifiedError extends AppError {
  constructor() {
    super(400, 'AUTH_EMAIL_ALREADY_VERIFIED', 'Email already verified');
  }
}
