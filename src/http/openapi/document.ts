/**
 * The OpenAPI 3.1 document of one mounted profile, generated from the very zod schemas that validate its
 * requests and type its responses, so the document cannot drift from the behaviour.
 */
import { z } from 'zod';
import type { Profile, RequestSpec, Reply } from '../legacy/profile.ts';
import type { OperationName, Route } from '../legacy/operations.ts';
import { MfaChallengeDetail } from '../legacy/schemas.ts';

export type JsonSchema = Record<string, unknown>;

export function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  return rest;
}

/**
 * Errors an operation may answer with beyond the bearer (401/403) and validation (422) ones, by the
 * service's status and code (a profile may show a code with another status: the envelope's 409).
 */
const ERRORS: Partial<Record<OperationName, { status: number; code: string }[]>> = {
  register: [{ status: 400, code: 'AUTH_EMAIL_EXISTS' }, { status: 400, code: 'AUTH_USERNAME_EXISTS' }],
  // 401 is also the second-factor challenge (`mfa_required`, CONTRACT §9); 403 also MFA_POLICY's refusal.
  login: [{ status: 401, code: 'AUTH_INVALID_CREDENTIALS' }, { status: 403, code: 'AUTH_INACTIVE' }],
  refresh: [{ status: 401, code: 'AUTH_INVALID_TOKEN' }],
  logout: [{ status: 401, code: 'AUTH_INVALID_TOKEN' }, { status: 404, code: 'AUTH_SESSION_NOT_FOUND' }],
  updateMe: [{ status: 400, code: 'AUTH_USERNAME_EXISTS' }],
  changePassword: [{ status: 400, code: 'AUTH_INCORRECT_PASSWORD' }],
  deleteSession: [{ status: 404, code: 'AUTH_SESSION_NOT_FOUND' }],
  verifyEmail: [{ status: 400, code: 'AUTH_INVALID_VERIFICATION_TOKEN' }],
  resendVerification: [{ status: 400, code: 'AUTH_EMAIL_ALREADY_VERIFIED' }],
  resetPassword: [{ status: 400, code: 'AUTH_INVALID_VERIFICATION_TOKEN' }],
};

/** Operations behind the abuse limits of CONTRACT §6 (429 with Retry-After). */
const RATE_LIMITED = new Set<OperationName>(['register', 'login', 'changePassword', 'verifyEmail', 'resendVerification', 'forgotPassword', 'resetPassword']);

/** What of a mount's options the document reflects. */
export interface MountFacts {
  requireEmailVerification: boolean;
  missingBearer: 401 | 403;
  /** REGISTRATION=closed: sign-up answers 403. */
  registrationClosed?: boolean;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'Successful Response',
  201: 'Created',
  202: 'Accepted',
  400: 'Bad Request',
  401: 'Not authenticated, or bad credentials or token',
  403: 'Account not active, or e-mail not verified',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Request body too large',
  422: 'Validation Error',
  429: 'Too Many Requests',
  503: 'Service temporarily unavailable',
};

const json = (schema: JsonSchema) => ({ 'application/json': { schema } });

function parameters(spec: RequestSpec<unknown>, location: 'query' | 'path'): JsonSchema[] {
  const schema = jsonSchema(spec.schema, 'input');
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: location,
    required: location === 'path' || required.has(name),
    schema: property,
  }));
}

function operation(profile: Profile, route: Route, mount: MountFacts): JsonSchema {
  const spec = (route.op === 'verifyEmail' && route.input === 'query' ? profile.requests.verifyEmailLink : profile.requests[route.op]) as RequestSpec<unknown>;
  const reply = profile.replies[route.op] as Reply<unknown>;
  const errors = [...(ERRORS[route.op] ?? [])];
  if (route.auth === 'bearer') {
    errors.push({ status: 401, code: 'AUTH_INVALID_TOKEN' }, { status: 403, code: 'AUTH_INACTIVE' });
    if (mount.missingBearer === 403) errors.push({ status: 403, code: 'AUTH_NOT_AUTHENTICATED' });
    if (mount.requireEmailVerification && !route.allowUnverified) errors.push({ status: 403, code: 'AUTH_EMAIL_NOT_VERIFIED' });
  }
  if (route.op === 'register' && mount.registrationClosed) errors.push({ status: 403, code: 'AUTH_REGISTRATION_CLOSED' });
  if (route.input === 'body') errors.push({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
  if (route.input !== 'none') errors.push({ status: 422, code: 'VALIDATION_ERROR' });
  if (RATE_LIMITED.has(route.op)) errors.push({ status: 429, code: 'TOO_MANY_REQUESTS' });
  errors.push({ status: 405, code: 'METHOD_NOT_ALLOWED' }, { status: 503, code: 'SERVICE_UNAVAILABLE' });

  const responses: Record<string, JsonSchema> = {
    [reply.status]: { description: STATUS_TEXT[reply.status] ?? 'Success', content: json(jsonSchema(reply.schema, 'input')) },
  };
  for (const { status, code } of errors) {
    const shown = profile.errorStatus ? profile.errorStatus(code, status) : status;
    const enveloped = profile.isEnveloped?.(code) && profile.errorSchemas.enveloped;
    // A flat profile's failed login is also the second-factor challenge (its mfa fields; the envelope's has them too).
    const flat = route.op === 'login' && status === 401 ? MfaChallengeDetail : status === 422 ? profile.errorSchemas.validation : profile.errorSchemas.error;
    const schema = enveloped || flat;
    const headers = status === 429 || status === 503 ? { 'Retry-After': { schema: { type: 'integer' }, description: 'seconds to wait' } } : undefined;
    responses[shown] ??= { description: STATUS_TEXT[shown] ?? 'Error', content: json(jsonSchema(schema, 'output')), ...(headers ? { headers } : {}) };
  }

  const op: JsonSchema = {
    operationId: `${route.op}_${route.method}${route.path.replace(/[^A-Za-z0-9]+/g, '_')}`.replace(/_+$/, ''),
    summary: route.summary,
    tags: ['auth'],
    responses,
  };
  if (route.auth === 'bearer') op.security = [{ HTTPBearer: [] }];
  if (route.auth === 'optional') op.security = [{ HTTPBearer: [] }, {}];
  if (route.input === 'query' || route.input === 'path') op.parameters = parameters(spec, route.input);
  if (route.input === 'body') {
    const content: JsonSchema = json(jsonSchema(spec.schema, 'input'));
    if (route.op === 'login') {
      content['application/x-www-form-urlencoded'] = {
        schema: {
          type: 'object',
          properties: { username: { type: 'string', description: `the ${profile.loginField}` }, password: { type: 'string' } },
          required: ['username', 'password'],
        },
      };
    }
    op.requestBody = { required: true, content };
  }
  return op;
}

export function buildOpenApiDocument(
  profile: Profile,
  prefix: string,
  routes: readonly Route[],
  version: string,
  mount: MountFacts,
  /** Paths documented elsewhere (the second-factor routes, legacy/mfa-routes.ts). */
  extraPaths: Record<string, Record<string, JsonSchema>> = {},
): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = { ...extraPaths };
  for (const route of routes) {
    const path = route.path.replace(/:([A-Za-z_]+)/g, '{$1}');
    paths[path] ??= {};
    paths[path][route.method] = operation(profile, route, mount);
  }
  // The page the e-mailed reset link opens (it posts to POST /reset-password).
  (paths['/reset-password'] ??= {}).get = {
    operationId: 'reset_password_page_get_reset_password',
    summary: 'The page the reset link opens: a form that posts the token and the new password',
    tags: ['pages'],
    parameters: [{ name: 'token', in: 'query', required: false, schema: { type: 'string' } }],
    responses: {
      200: { description: 'HTML form', content: { 'text/html': { schema: { type: 'string' } } } },
      405: { description: STATUS_TEXT[405], content: json(jsonSchema(profile.errorSchemas.error, 'output')) },
    },
  };
  return {
    openapi: '3.1.0',
    info: { title: profile.title, version, description: `${profile.description} Profile \`${profile.name}\`, mounted at \`${prefix}\`.` },
    servers: [{ url: prefix }],
    paths,
    components: {
      securitySchemes: { HTTPBearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    },
  };
}
