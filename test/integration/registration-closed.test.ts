/**
 * REGISTRATION=closed (CONTRACT §1): self-service sign-up is refused at every legacy mount, before any
 * limit counts it or any hashing, and documented; admins still create users.
 */
import { expect } from 'chai';
import { MODES, startTestServer, type TestServer } from '../helpers/app.ts';
import { http } from '../helpers/legacy-client.ts';
import { call, createUser, login } from '../helpers/admin-api.ts';

const PASSWORD = 'a long enough password';

const MOUNTS = '/auth=auth-service,/api/v1/auth=aurora,/api/v2/auth=v2,/api/env/auth=envelope';

describe('REGISTRATION=closed', function () {
  this.timeout(30_000);

  for (const mode of MODES) {
    describe(mode.name, () => {
      let server: TestServer;
      before(async function () {
        this.timeout(60_000);
        server = await startTestServer({ database: mode.database, store: mode.store, mocha: this, env: { REGISTRATION: 'closed', COMPAT_PROFILES: MOUNTS } });
      });
      after(async () => server?.close());

      for (const [prefix, path] of [['/auth', '/signup'], ['/api/v1/auth', '/register'], ['/api/v2/auth', '/register'], ['/api/env/auth', '/register'], ['/auth', '/register']] as const) {
        it(`POST ${prefix}${path} answers 403 "Registration is closed" and creates nobody`, async () => {
          const email = `closed-${prefix.replace(/\W/g, '')}-${path.slice(1)}@example.com`;
          const res = await http('POST', `${server.url}${prefix}${path}`, {
            json: { email, username: `closed${prefix.replace(/\W/g, '')}${path.slice(1)}`, password: PASSWORD, full_name: 'Closed' },
          });
          expect(res.status).to.equal(403);
          expect(res.body).to.deep.equal({ detail: 'Registration is closed' });
          expect(await server.deps.models.User.count({ where: { email } })).to.equal(0);
        });
      }

      it('documents the 403 of sign-up in the mount OpenAPI', async () => {
        const doc = (await http('GET', `${server.url}/auth/openapi.json`)).body as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
        expect(doc.paths['/signup']?.post?.responses).to.have.property('403');
      });

      it('still lets an admin create a user through the admin API', async () => {
        await createUser(server, { email: 'closed-root@example.com', username: 'closedroot', password: PASSWORD, roles: ['idp_admin'] });
        const token = await login(server, 'closedroot', PASSWORD);
        const res = await call(server, 'POST', '/admin/api/users', { token, body: { email: 'made-by-admin@example.com', password: PASSWORD } });
        expect(res.status).to.equal(201);
      });
    });
  }
});
