/**
 * The second-factor routes of every legacy mount (CONTRACT §9): `POST /login/mfa` (the second step of a
 * login that answered `mfa_required`) and the Bearer routes under `/mfa` that enrol and remove factors.
 * Bodies are the same in every profile; the envelope wraps them (`wrapData`), errors go through the
 * profile's renderer like every other error of the mount.
 */
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { z } from 'zod';
import type { AccountService } from '../../services/accounts/accounts.ts';
import type { SessionService } from '../../services/sessions.ts';
import type { TokenService } from '../../services/tokens.ts';
import type { MfaService, MfaStatus } from '../../services/mfa/factors.ts';
import type { MfaLogin } from '../../services/mfa/mfa-login.ts';
import { AccountInactiveError, InvalidAccessTokenError } from '../../services/accounts/errors.ts';
import { PASSWORD_MAX_LENGTH } from '../../services/passwords.ts';
import { validate } from '../middleware/validate.ts';
import { jsonSchema, type JsonSchema } from '../openapi/document.ts';
import { startSignedIn, type OperationContext } from './operations.ts';
import type { Profile } from './profile.ts';
import { requestContext } from './request-context.ts';

export interface LegacyMfaServices {
  mfa: MfaService;
  mfaLogin: MfaLogin;
  accounts: Pick<AccountService, 'getById'>;
  sessions: SessionService;
  tokens: TokenService;
}

const code = z.string().min(1).max(64);
const password = z.string().min(1).max(PASSWORD_MAX_LENGTH);
const loginMfaBody = z.object({ mfa_token: z.string().min(1).max(512), code });
const confirmBody = z.object({ code });
const passwordBody = z.object({ password });

/** The `GET /mfa` body (also the admin API's `GET /users/:id/mfa`). */
export const MfaStatusBody = z.object({
  totp: z.boolean(),
  passkeys: z.array(z.object({ id: z.string(), name: z.string(), created_at: z.string(), last_used_at: z.string().nullable() })),
  recovery_codes_left: z.int(),
});

export const mfaStatusBody = (status: MfaStatus): z.input<typeof MfaStatusBody> => ({
  totp: status.totp,
  passkeys: status.passkeys,
  recovery_codes_left: status.recovery_codes_left,
});

export function mfaRoutes(
  router: Router,
  options: {
    profile: Profile;
    services: LegacyMfaServices;
    bearer: Middleware;
    setup: Middleware;
    links: OperationContext['links'];
    /** The mount's token policy: the second step's tokens are the mount's, as the password login's are. */
    policy?: OperationContext['policy'];
  },
): void {
  const { profile, services, bearer, setup } = options;
  const data = (value: unknown): unknown => (profile.wrapData ? profile.wrapData(value) : value);
  const userOf = (ctx: Parameters<Middleware>[0]): { id: string; email: string; username: string | null } => {
    const auth = ctx.state.auth;
    if (!auth) throw new InvalidAccessTokenError();
    return auth.account;
  };

  router.post('/login/mfa', setup, async (ctx) => {
    const body = validate(loginMfaBody, ctx.request.body ?? {}, 'body');
    const request = requestContext(ctx, profile.name);
    const { userId, amr } = await services.mfaLogin.completeWithCode(body.mfa_token, body.code, request);
    const account = await services.accounts.getById(userId);
    if (!account) throw new InvalidAccessTokenError();
    if (account.status !== 'active') throw new AccountInactiveError();
    const signedIn = await startSignedIn(services, account, amr, { request, links: options.links, policy: options.policy });
    const reply = profile.replies.login;
    ctx.status = reply.status;
    ctx.body = reply.render(signedIn);
  });

  router.get('/mfa', setup, bearer, async (ctx) => {
    ctx.body = data(mfaStatusBody(await services.mfa.status(userOf(ctx).id)));
  });

  router.post('/mfa/totp', setup, bearer, async (ctx) => {
    const user = userOf(ctx);
    const started = await services.mfa.startTotp(user.id, user.email);
    ctx.body = data({ secret: started.secret, otpauth_uri: started.otpauthUri });
  });

  router.post('/mfa/totp/confirm', setup, bearer, async (ctx) => {
    const body = validate(confirmBody, ctx.request.body ?? {}, 'body');
    const codes = await services.mfa.confirmTotp(userOf(ctx).id, body.code, requestContext(ctx, profile.name));
    ctx.body = data({ recovery_codes: codes });
  });

  router.delete('/mfa/totp', setup, bearer, async (ctx) => {
    const body = validate(passwordBody, ctx.request.body ?? {}, 'body');
    await services.mfa.removeTotp(userOf(ctx).id, body.password, requestContext(ctx, profile.name));
    ctx.body = data({ message: 'TOTP removed' });
  });

  router.post('/mfa/recovery-codes', setup, bearer, async (ctx) => {
    const body = validate(passwordBody, ctx.request.body ?? {}, 'body');
    const codes = await services.mfa.regenerateRecoveryCodes(userOf(ctx).id, body.password, requestContext(ctx, profile.name));
    ctx.body = data({ recovery_codes: codes });
  });
}

const RecoveryCodesBody = z.object({ recovery_codes: z.array(z.string()) });
const MessageBody = z.object({ message: z.string() });
const TotpStartBody = z.object({ secret: z.string(), otpauth_uri: z.string() });

interface MfaDoc {
  method: 'get' | 'post' | 'delete';
  path: string;
  summary: string;
  bearer: boolean;
  body?: z.ZodType;
  reply?: z.ZodType;
  /** Error statuses beyond 401/403 of a bearer route, 422 of a body and 503. */
  errors: number[];
}

const DOCS: MfaDoc[] = [
  { method: 'post', path: '/login/mfa', summary: 'Second step of a login that answered mfa_required: a TOTP or recovery code; the same answer as POST /login', bearer: false, body: loginMfaBody, errors: [401, 403, 429] },
  { method: 'get', path: '/mfa', summary: "The user's second factors", bearer: true, reply: MfaStatusBody, errors: [] },
  { method: 'post', path: '/mfa/totp', summary: 'Start TOTP enrolment: a new secret and its otpauth URI', bearer: true, reply: TotpStartBody, errors: [409] },
  { method: 'post', path: '/mfa/totp/confirm', summary: 'Confirm TOTP with a first code; answers the recovery codes (shown once)', bearer: true, body: confirmBody, reply: RecoveryCodesBody, errors: [400, 409] },
  { method: 'delete', path: '/mfa/totp', summary: 'Remove TOTP (needs the password); 409 when MFA_POLICY requires a second factor and it is the last one', bearer: true, body: passwordBody, reply: MessageBody, errors: [400, 404, 409, 429] },
  { method: 'post', path: '/mfa/recovery-codes', summary: 'A new set of recovery codes; the old ones stop working (needs the password)', bearer: true, body: passwordBody, reply: RecoveryCodesBody, errors: [400, 429] },
];

/** The methods and paths these routes add to a mount (CORS preflights, 405 answers). */
export const MFA_ROUTES: ReadonlyArray<Pick<MfaDoc, 'method' | 'path'>> = DOCS.map(({ method, path }) => ({ method, path }));

/** The OpenAPI paths of these routes for one profile (its login reply, its error bodies, its envelope). */
export function mfaOpenApiPaths(profile: Profile): Record<string, Record<string, JsonSchema>> {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  const wrapped = (schema: z.ZodType): JsonSchema =>
    profile.wrapData
      ? { type: 'object', properties: { success: { const: true }, data: jsonSchema(schema, 'input'), message: { type: 'null' } }, required: ['success', 'data', 'message'] }
      : jsonSchema(schema, 'input');
  for (const doc of DOCS) {
    const reply = doc.reply ? wrapped(doc.reply) : jsonSchema(profile.replies.login.schema, 'input');
    const responses: Record<string, JsonSchema> = { 200: { description: 'Successful Response', content: { 'application/json': { schema: reply } } } };
    // Every status the route answers (CONTRACT §3): its own, the bearer's, an oversized or invalid body, a wrong method, an outage.
    const errors = [...doc.errors, ...(doc.bearer ? [401, 403] : []), ...(doc.body ? [413, 422] : []), 405, 503];
    for (const status of errors) {
      const schema = status === 422 ? profile.errorSchemas.validation : profile.errorSchemas.error;
      const headers = status === 429 || status === 503 ? { 'Retry-After': { schema: { type: 'integer' }, description: 'seconds to wait' } } : undefined;
      responses[status] ??= {
        description: status === 401 && !doc.bearer ? 'Invalid code, or invalid or expired MFA token' : 'Error',
        content: { 'application/json': { schema: jsonSchema(schema, 'output') } },
        ...(headers ? { headers } : {}),
      };
    }
    const op: JsonSchema = { operationId: `mfa_${doc.method}${doc.path.replace(/[^A-Za-z0-9]+/g, '_')}`, summary: doc.summary, tags: ['mfa'], responses };
    if (doc.bearer) op.security = [{ HTTPBearer: [] }];
    if (doc.body) op.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(doc.body, 'input') } } };
    (paths[doc.path] ??= {})[doc.method] = op;
  }
  return paths;
}
