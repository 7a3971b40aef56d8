/**
 * Sessions end softly (CONTRACT §3, §5): every way of ending one records why, the ended session's tokens
 * fail at once, `GET /sessions?include_expired=true` lists it for 7 days with `is_active: false`,
 * `ended_at` and `end_reason`, and the store drops it after that (bounded storage).
 */
import { expect } from 'chai';
import { MODES, startTestServer, type TestServer } from '../helpers/app.ts';
import { call, createUser } from '../helpers/admin-api.ts';
import { startSmtpServer, firstLink, type TestSmtpServer } from '../helpers/smtp.ts';
import { PROFILE_ADAPTERS, legacyClient, type LegacyClient, type Tokens } from '../helpers/legacy-client.ts';
import { sessionKey } from '../../src/services/sessions.ts';

const aurora = PROFILE_ADAPTERS.find((profile) => profile.name === 'aurora')!;
const SEVEN_DAYS_MS = 7 * 24 * 3600 * 1000;

interface Item {
  session_id: string;
  is_current: boolean;
  is_active: boolean;
  amr: string[];
  ended_at: string | null;
  end_reason: string | null;
}

const sidOf = (token: string): string =>
  (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { sid: string }).sid;

for (const mode of MODES) {
  describe(`ended sessions stay listable for 7 days with their reason (${mode.name})`, function () {
    this.timeout(60_000);
    let server: TestServer;
    let smtp: TestSmtpServer;
    let api: LegacyClient;

    before(async function () {
      this.timeout(60_000);
      smtp = await startSmtpServer();
      server = await startTestServer({
        database: mode.database,
        store: mode.store,
        mocha: this,
        env: { COMPAT_PROFILES: `${aurora.prefix}=aurora`, SMTP_URL: smtp.url },
      });
      api = legacyClient(server.url, aurora);
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
    });

    const list = async (token: string, includeExpired = true): Promise<Item[]> => {
      const res = await api.get(`/sessions${includeExpired ? '?include_expired=true' : ''}`, { token });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      return res.body as Item[];
    };
    const reasonOf = (items: Item[], token: string): Item | undefined => items.find((item) => item.session_id === sidOf(token));
    const refused = async (tokens: Tokens): Promise<void> => {
      expect((await api.get('/me', { token: tokens.access })).status, 'access token of an ended session').to.equal(401);
      expect((await api.post('/refresh', { json: { refresh_token: tokens.refresh } })).status, 'its refresh token').to.equal(401);
    };

    it('logout, logout with session_id and DELETE /sessions/{id} each leave the session listed with its reason', async () => {
      const { user, tokens: current } = await api.signedIn('soft');
      const loggedOut = await api.login(user);
      const byId = await api.login(user);
      const deleted = await api.login(user);

      expect((await api.post('/logout', { token: loggedOut.access })).status).to.equal(200);
      expect((await api.post('/logout', { token: current.access, json: { session_id: sidOf(byId.access) } })).status).to.equal(200);
      expect((await api.delete(`/sessions/${sidOf(deleted.access)}`, { token: current.access })).status).to.equal(200);
      for (const gone of [loggedOut, byId, deleted]) await refused(gone);

      const live = await list(current.access, false);
      expect(live.map((item) => item.session_id)).to.deep.equal([sidOf(current.access)]);
      expect(live[0]).to.deep.include({ is_current: true, is_active: true, amr: ['pwd'], ended_at: null, end_reason: null });

      const all = await list(current.access);
      expect(all).to.have.length(4);
      expect(reasonOf(all, loggedOut.access)).to.deep.include({ is_active: false, end_reason: 'logout' });
      expect(reasonOf(all, byId.access)).to.deep.include({ is_active: false, end_reason: 'logout' });
      expect(reasonOf(all, deleted.access)).to.deep.include({ is_active: false, end_reason: 'revoked' });
      for (const item of all.filter((i) => !i.is_active)) expect(Date.parse(item.ended_at ?? '')).to.be.closeTo(Date.now(), 60_000);

      // An ended session cannot be ended again: 404 as for an unknown one.
      expect((await api.delete(`/sessions/${sidOf(deleted.access)}`, { token: current.access })).status).to.equal(404);
    });

    it('keeps an ended entry in the store for 7 days after it ended, not until the session would have expired', async () => {
      const { user, tokens: current } = await api.signedIn('ttl');
      const other = await api.login(user);
      expect((await api.delete(`/sessions/${sidOf(other.access)}`, { token: current.access })).status).to.equal(200);
      const userId = (await server.deps.accounts.findByEmail(user.email))?.id ?? '';
      const redis = server.deps.store.redis;
      if (redis) {
        const ttl = await redis.pttl(sessionKey(userId, sidOf(other.access)));
        expect(ttl).to.be.within(SEVEN_DAYS_MS - 120_000, SEVEN_DAYS_MS);
      } else {
        expect(await server.deps.store.get(sessionKey(userId, sidOf(other.access)))).to.deep.include({ end_reason: 'revoked' });
      }
    });

    it('logout of all sessions marks each logout_all; a password change marks the others password_change', async () => {
      const { user, tokens: first } = await api.signedIn('all');
      const second = await api.login(user);
      const res = await api.post('/logout', { token: first.access, json: { revoke_all_sessions: true } });
      expect(res.body).to.deep.equal({ message: 'Logged out from all 2 sessions' });
      await refused(first);
      await refused(second);

      const kept = await api.login(user);
      const changed = await api.login(user);
      const put = await api.put('/users/me/password', { token: kept.access, json: { current_password: user.password, new_password: 'a-new-password-1' } });
      expect(put.status).to.equal(200);
      await refused(changed);
      const all = await list(kept.access);
      expect(reasonOf(all, first.access)?.end_reason).to.equal('logout_all');
      expect(reasonOf(all, second.access)?.end_reason).to.equal('logout_all');
      expect(reasonOf(all, changed.access)).to.deep.include({ is_active: false, end_reason: 'password_change' });
      expect(reasonOf(all, kept.access)).to.deep.include({ is_active: true, end_reason: null });
    });

    it('a replayed refresh token ends its session with refresh_reuse', async () => {
      const { user, tokens: victim } = await api.signedIn('reuse');
      const rotated = await api.post('/refresh', { json: { refresh_token: victim.refresh } });
      expect(rotated.status).to.equal(200);
      expect((await api.post('/refresh', { json: { refresh_token: victim.refresh } })).status).to.equal(401);
      expect((await api.get('/me', { token: victim.access })).status).to.equal(401);
      const watcher = await api.login(user);
      expect(reasonOf(await list(watcher.access), victim.access)).to.deep.include({ is_active: false, end_reason: 'refresh_reuse' });
    });

    it('a password reset marks every session password_reset', async () => {
      const { user, tokens } = await api.signedIn('reset');
      expect((await api.post('/forgot-password', { json: { email: user.email } })).status).to.equal(202);
      const mail = await smtp.waitFor((m) => m.to.includes(user.email.toLowerCase()) && m.subject === 'Reset your password');
      const token = new URL(firstLink(mail)).searchParams.get('token') ?? '';
      expect((await api.post('/reset-password', { json: { token, new_password: 'after-reset-secret' } })).status).to.equal(200);
      await refused(tokens);
      const after = await api.login({ ...user, password: 'after-reset-secret' });
      expect(reasonOf(await list(after.access), tokens.access)).to.deep.include({ is_active: false, end_reason: 'password_reset' });
    });

    it('an admin revocation and a deactivation mark the sessions admin, in the admin API listing too', async () => {
      await createUser(server, { email: 'ops@sessions.example', username: 'ops_sessions', password: 'ops-password-1', roles: ['idp_admin'] });
      const adminToken = (await api.login({ username: 'ops_sessions', email: 'ops@sessions.example', password: 'ops-password-1' })).access;
      const { user, tokens: one } = await api.signedIn('adm');
      const two = await api.login(user);
      const id = (await server.deps.accounts.findByEmail(user.email))?.id ?? '';

      expect((await call(server, 'DELETE', `/admin/api/users/${id}/sessions/${sidOf(one.access)}`, { token: adminToken })).status).to.equal(204);
      await refused(one);
      expect((await call(server, 'PATCH', `/admin/api/users/${id}`, { token: adminToken, body: { status: 'suspended' } })).status).to.equal(200);
      await refused(two);

      const listed = await call<{ items: Record<string, unknown>[]; total: number }>(server, 'GET', `/admin/api/users/${id}/sessions?include_expired=true`, { token: adminToken });
      expect(listed.body.total).to.equal(2);
      for (const item of listed.body.items) {
        expect(Object.keys(item).sort()).to.deep.equal(
          ['session_id', 'kind', 'client_id', 'device_id', 'device_name', 'device_type', 'user_agent', 'ip_address', 'created_at', 'last_active_at', 'expires_at', 'is_current', 'is_active', 'amr', 'ended_at', 'end_reason'].sort(),
        );
        expect(item).to.deep.include({ is_active: false, end_reason: 'admin' });
      }
      expect((await call(server, 'GET', `/admin/api/users/${id}/sessions`, { token: adminToken })).body).to.deep.equal({ items: [], total: 0 });
    });
  });
}
