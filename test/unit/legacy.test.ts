import { expect } from 'chai';
import type { z } from 'zod';
import { validate } from '../../src/http/middleware/validate.ts';
import { MalformedJsonError, ValidationError } from '../../src/errors.ts';
import { AccountExistsError, InvalidCredentialsError, SessionNotFoundError } from '../../src/services/accounts/errors.ts';
import { PROFILES } from '../../src/http/legacy/mounts.ts';
import { ROUTES } from '../../src/http/legacy/operations.ts';
import { buildOpenApiDocument } from '../../src/http/openapi/document.ts';
import type { AccountView } from '../../src/services/accounts/view.ts';

function issuesOf(schema: z.ZodType, input: unknown, location: 'body' | 'query' = 'body') {
  try {
    validate(schema, input, location);
  } catch (err) {
    expect(err).to.be.instanceOf(ValidationError);
    return (err as ValidationError).issues;
  }
  throw new Error('expected a validation error');
}

const account: AccountView = {
  id: '6f1f1d5c-8c1e-4c38-9a53-0c1f0c1f0c1f',
  number: 12,
  username: 'alice',
  email: 'alice@example.com',
  full_name: 'Alice',
  phone: null,
  status: 'suspended',
  email_verified: false,
  onboarding_completed: true,
  onboarding_step: 2,
  onboarding_data: { a: 1 },
  organization_id: '0b5c3d2e-1f00-4a00-8000-000000000001',
  created_at: new Date('2030-01-01T00:00:00Z'),
  updated_at: new Date('2030-01-02T00:00:00Z'),
  roles: ['admin', 'billing'],
  role_details: [
    { id: '11111111-1111-4111-8111-111111111111', name: 'admin', description: 'Administrators' },
    { id: '22222222-2222-4222-8222-222222222222', name: 'billing', description: null },
  ],
};

describe('legacy profiles (src/http/legacy)', () => {
  describe('FastAPI-shaped validation errors', () => {
    const login = PROFILES.v2.requests.login.schema;

    it('reports missing fields, bad e-mails and short passwords the way pydantic words them', () => {
      expect(issuesOf(login, {})).to.deep.equal([
        { type: 'missing', loc: ['body', 'email'], msg: 'Field required', input: {} },
        { type: 'missing', loc: ['body', 'password'], msg: 'Field required', input: {} },
      ]);
      const short = issuesOf(login, { email: 'nope', password: 'short' });
      expect(short[1]).to.deep.equal({ type: 'string_too_short', loc: ['body', 'password'], msg: 'String should have at least 8 characters', input: 'short', ctx: { min_length: 8 } });
      expect(short[0]).to.include({ type: 'value_error', input: 'nope' }).and.have.property('ctx').that.has.property('reason');
      expect(issuesOf(login, { email: 'a@example.com', password: 12345678 })).to.deep.equal([
        { type: 'string_type', loc: ['body', 'password'], msg: 'Input should be a valid string', input: 12345678 },
      ]);
    });

    it('reports a body that is not an object at loc ["body"]', () => {
      expect(issuesOf(login, [])).to.deep.equal([
        { type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', input: [] },
      ]);
    });

    it('reports query booleans it cannot read as bool_parsing', () => {
      expect(issuesOf(PROFILES.aurora.requests.listSessions.schema, { include_expired: 'maybe' }, 'query')).to.deep.equal([
        { type: 'bool_parsing', loc: ['query', 'include_expired'], msg: 'Input should be a valid boolean, unable to interpret input', input: 'maybe' },
      ]);
      expect(PROFILES.aurora.requests.listSessions.parse({ include_expired: 'true' })).to.deep.equal({ includeExpired: true });
      expect(PROFILES.aurora.requests.listSessions.parse({})).to.deep.equal({ includeExpired: false });
    });

    it('lets the envelope log in with username or email, and says which is missing', () => {
      const envelopeLogin = PROFILES.envelope.requests.login;
      expect(envelopeLogin.parse({ email: 'A@x.com', password: 'p' })).to.deep.equal({ login: 'A@x.com', password: 'p' });
      expect(issuesOf(envelopeLogin.schema, { password: 'p' })).to.deep.equal([{ type: 'missing', loc: ['body', 'username'], msg: 'Field required', input: { password: 'p' } }]);
    });

    it('ignores fields PUT /users/me must never apply', () => {
      const patch = PROFILES['auth-service'].requests.updateMe.parse({ full_name: 'X', roles: ['admin'], status: 'active', email: 'x@y.z', username: null });
      expect(Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined))).to.deep.equal({ fullName: 'X' });
    });
  });

  describe('renderers', () => {
    it('render each profile user with exactly its fields', () => {
      expect(PROFILES['auth-service'].replies.me.render(account)).to.deep.equal({ id: 12, username: 'alice', email: 'alice@example.com', is_active: false });
      expect(PROFILES.aurora.replies.me.render(account)).to.deep.equal({
        id: account.id, username: 'alice', email: 'alice@example.com', full_name: 'Alice', role: 'admin', status: 'suspended', is_active: false,
      });
      expect(PROFILES.v2.replies.me.render(account)).to.deep.equal({
        user: {
          id: account.id, email: 'alice@example.com', full_name: 'Alice', phone: null, organization_id: account.organization_id, status: 'suspended',
          onboarding_completed: true, onboarding_step: 2, onboarding_data: { a: 1 }, created_at: '2030-01-01T00:00:00.000Z', updated_at: '2030-01-02T00:00:00.000Z',
        },
        roles: account.role_details,
        organization_id: account.organization_id,
      });
      expect(PROFILES.envelope.replies.me.render(account)).to.deep.equal({
        success: true,
        data: {
          id: account.id, username: 'alice', email: 'alice@example.com', full_name: 'Alice', role: 'admin', status: 'suspended', is_active: false,
          email_verified: false, created_at: '2030-01-01T00:00:00.000Z',
        },
        message: 'User profile retrieved successfully',
      });
    });

    it('render a user without roles with role null', () => {
      expect(PROFILES.aurora.replies.me.render({ ...account, roles: [], role_details: [] })).to.include({ role: null });
    });

    it('render errors as FastAPI detail, with the v2 wording for failed logins', () => {
      expect(PROFILES.aurora.renderError(new InvalidCredentialsError())).to.deep.equal({ status: 401, body: { detail: 'Incorrect username or password' } });
      expect(PROFILES.v2.renderError(new InvalidCredentialsError())).to.deep.equal({ status: 401, body: { detail: 'Incorrect email or password' } });
      const invalid = new ValidationError([{ loc: ['body', 'email'], msg: 'Field required', type: 'missing' }]);
      expect(PROFILES['auth-service'].renderError(invalid).body).to.deep.equal({ detail: [{ loc: ['body', 'email'], msg: 'Field required', type: 'missing' }] });
    });

    it('render envelope errors with their codes, a taken e-mail as 409', () => {
      expect(PROFILES.envelope.renderError(new AccountExistsError('email'))).to.deep.equal({
        status: 409, body: { success: false, error: { code: 'AUTH_EMAIL_EXISTS', message: 'Email already registered' } },
      });
      expect(PROFILES.envelope.renderError(new InvalidCredentialsError())).to.deep.equal({
        status: 401, body: { success: false, error: { code: 'AUTH_INVALID_CREDENTIALS', message: 'Incorrect username or password' } },
      });
      // Every other error is FastAPI's plain body, as seed 002 left it.
      expect(PROFILES.envelope.renderError(new SessionNotFoundError())).to.deep.equal({ status: 404, body: { detail: 'Session not found' } });
      const invalid = new ValidationError([{ loc: ['body', 'email'], msg: 'Field required', type: 'missing' }]);
      expect(PROFILES.envelope.renderError(invalid)).to.deep.equal({ status: 422, body: { detail: [{ loc: ['body', 'email'], msg: 'Field required', type: 'missing' }] } });
      expect(PROFILES.envelope.renderError(new MalformedJsonError(3, 'Expecting value'))).to.deep.equal({
        status: 422,
        body: { detail: [{ type: 'json_invalid', loc: ['body', 3], msg: 'JSON decode error', input: {}, ctx: { error: 'Expecting value' } }] },
      });
    });
  });

  describe('OpenAPI documents', () => {
    for (const [name, profile] of Object.entries(PROFILES)) {
      it(`describes every route of the ${name} profile with its schemas`, () => {
        const doc = buildOpenApiDocument(profile, '/x', ROUTES, '1.0.0', { requireEmailVerification: false, missingBearer: 401 }) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
        const documented = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`));
        expect(documented.sort()).to.deep.equal([...ROUTES.map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`), 'get /reset-password'].sort());
        for (const route of ROUTES) {
          const op = doc.paths[route.path.replace(/:(\w+)/g, '{$1}')]?.[route.method];
          const statuses = Object.keys(op?.responses ?? {});
          expect(statuses, `${route.method} ${route.path}`).to.include(String(profile.replies[route.op].status)).and.include.members(['405', '503']);
          if (route.input === 'body') expect(statuses, `${route.method} ${route.path}`).to.include.members(['413', '422']);
          if (route.auth === 'bearer') expect(statuses, `${route.method} ${route.path}`).to.include.members(['401', '403']);
        }
        const paths = doc.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>;
        expect(Object.keys(paths['/login']?.post?.responses ?? {})).to.include.members(['401', '403', '429']);
        expect(Object.keys(paths['/register']?.post?.responses ?? {})).to.include(name === 'envelope' ? '409' : '400');
        expect(Object.keys(paths['/sessions/{session_id}']?.delete?.responses ?? {})).to.include('404');
        expect(JSON.stringify(doc)).to.not.include('$schema');
      });
    }
  });
});
