/**
 * Errors a service may throw. `status` is the HTTP status a door answers with; `expose` says whether
 * `message` may be shown to the client. Anything that is not an AppError (or has expose=false) is
 * rendered as a generic 500 and logged with its stack by the error middleware.
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly expose: boolean;
  /** Extra, client-safe data a renderer may use (e.g. validation issues, retry-after seconds). */
  readonly detail: unknown;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { expose?: boolean; detail?: unknown; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.expose = options.expose ?? status < 500;
    this.detail = options.detail;
    this.headers = options.headers ?? {};
  }
}

export interface ValidationIssue {
  /** FastAPI-style location, e.g. ['body', 'email']. */
  loc: (string | number)[];
  msg: string;
  type: string;
  /** What pydantic v2 echoes: the offending value (for a missing field, the object it is missing from). */
  input?: unknown;
  /** pydantic's context of the error, e.g. `{"min_length": 8}`. */
  ctx?: Record<string, unknown>;
}

export class ValidationError extends AppError {
  constructor(issues: ValidationIssue[]) {
    super(422, 'VALIDATION_ERROR', 'Request validation failed', { detail: issues });
  }
  get issues(): ValidationIssue[] {
    return this.detail as ValidationIssue[];
  }
}

export class BadRequestError extends AppError {
  constructor(message: string, code = 'BAD_REQUEST') {
    super(400, code, message);
  }
}

/**
 * A body that is not JSON. 400 at the doors of this product; the FastAPI-compatible doors answer 422
 * `json_invalid` with where and why Python's parser stopped (`position`, `reason`).
 */
export class MalformedJsonError extends BadRequestError {
  readonly position: number;
  readonly reason: string;
  constructor(position: number, reason: string) {
    super('Malformed JSON body');
    this.position = position;
    this.reason = reason;
  }

  /** FastAPI's issue for it (fastapi/routing.py). */
  get issue(): ValidationIssue {
    return { type: 'json_invalid', loc: ['body', this.position], msg: 'JSON decode error', input: {}, ctx: { error: this.reason } };
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'Could not validate credentials', code = 'AUTH_INVALID_TOKEN') {
    super(401, code, message, { headers: { 'WWW-Authenticate': 'Bearer' } });
  }
}

export class ForbiddenError extends AppError {
  constructor(message: string, code = 'FORBIDDEN') {
    super(403, code, message);
  }
}

export class NotFoundError extends AppError {
  constructor(message = 'Not Found', code = 'NOT_FOUND') {
    super(404, code, message);
  }
}

export class ConflictError extends AppError {
  constructor(message: string, code = 'CONFLICT') {
    super(409, code, message);
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(message = 'Request body too large') {
    super(413, 'PAYLOAD_TOO_LARGE', message);
  }
}

export class RateLimitedError extends AppError {
  constructor(retryAfterSeconds: number, message = 'Too many attempts, try again later') {
    const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
    super(429, 'RATE_LIMITED', message, { detail: { retryAfter: seconds }, headers: { 'Retry-After': String(seconds) } });
  }
}

/** A dependency (database or store) cannot be reached. Always 503 with Retry-After, never a crash. */
export class ServiceUnavailableError extends AppError {
  readonly dependency: 'database' | 'store';
  constructor(dependency: 'database' | 'store', cause?: unknown) {
    super(503, 'SERVICE_UNAVAILABLE', 'Service temporarily unavailable', {
      expose: true,
      headers: { 'Retry-After': '5' },
      cause,
    });
    this.dependency = dependency;
  }
}

/**
 * Too much work already waiting (the password-hash queue is full): the request is refused at once with 503
 * and Retry-After instead of queueing behind the others. Same code and message as an outage, so every door
 * renders it as one (CONTRACT §6), but no dependency is down.
 */
/** The client closed the connection before its answer: the work it asked for is not done (nginx's 499). */
export class RequestAbandonedError extends AppError {
  constructor() {
    super(499, 'CLIENT_CLOSED_REQUEST', 'Client closed request', { expose: true });
  }
}

export class ServerBusyError extends AppError {
  constructor(retryAfterSeconds = 1) {
    super(503, 'SERVICE_UNAVAILABLE', 'Service temporarily unavailable', {
      expose: true,
      headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
    });
  }
}
