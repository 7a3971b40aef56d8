/**
 * Races at the legacy door (CONTRACT §6), on PostgreSQL + Redis and on the embedded SQLite: 10 parallel
 * refreshes of one refresh token → at most one success; 30 parallel registrations of one e-mail → one
 * row; and on SQLite, many concurrent writers (registrations, audited logins, profile updates) finish
 * promptly instead of stalling on the database lock.
 */
import { expect } from 'chai';
import { MODES, startTestServer, type TestServer } from '../helpers/app.ts';
import { ALL_PROFILES, PROFILE_ADAPTERS, legacyClient, newUser } from '../helpers/legacy-client.ts';

for (const mode of MODES) {
  describe(`races at the legacy door, ${mode.name}`, function () {
    this.timeout(40_000);
    let server: TestServer;

    before(async function () {
      this.timeout(60_000);
      // Races, not load shedding: a hash queue long enough for every request at once (the bound has its own tests).
      server = await startTestServer({ database: mode.database, store: mode.store, mocha: this, env: { COMPAT_PROFILES: ALL_PROFILES }, passwordHashing: { queueLimit: 1000 } });
    });
    after(async () => server?.close());

    for (const profile of PROFILE_ADAPTERS) {
      it(`${profile.name}: of 10 parallel refreshes of one refresh token at most one succeeds, the rest get a clean 401`, async () => {
        const api = legacyClient(server.url, profile);
        const { tokens } = await api.signedIn('rrace');
        const replies = await Promise.all(Array.from({ length: 10 }, () => api.post('/refresh', { json: { refresh_token: tokens.refresh } })));
        const statuses = replies.map((r) => r.status);
        expect(statuses.filter((s) => s === 200).length, statuses.join(',')).to.be.at.most(1);
        for (const loser of replies.filter((r) => r.status !== 200)) {
          expect(loser.status).to.equal(401);
          expect(profile.error(loser.body)).to.equal('Invalid or expired refresh token');
        }
        // Whatever the race did, the spent token never works again.
        expect((await api.post('/refresh', { json: { refresh_token: tokens.refresh } })).status).to.equal(401);
      });
    }

    it('of 30 parallel registrations of one e-mail (any case) exactly one succeeds and one row exists', async () => {
      const email = newUser('regrace').email;
      const variants = [email, email.toLowerCase(), email.toUpperCase()];
      const attempts = Array.from({ length: 30 }, (_, i) => {
        const profile = PROFILE_ADAPTERS[i % PROFILE_ADAPTERS.length]!;
        const user = { ...newUser(`r${i}`), email: variants[i % variants.length]! };
        return legacyClient(server.url, profile).post('/register', { json: profile.registerBody(user) }).then((res) => ({ profile, res }));
      });
      const results = await Promise.all(attempts);
      const created = results.filter(({ profile, res }) => res.status === profile.registerStatus);
      expect(created, results.map(({ res }) => res.status).join(',')).to.have.length(1);
      for (const { profile, res } of results.filter((r) => r !== created[0])) {
        expect(res.status).to.equal(profile.envelope ? 409 : 400);
        expect(profile.error(res.body)).to.equal('Email already registered');
      }
      const { User, Organization, Membership } = server.deps.models;
      const rows = await User.findAll({ where: { email: email.toLowerCase() } });
      expect(rows).to.have.length(1);
      // The losers' transactions left nothing behind either.
      expect(await Membership.count({ where: { userId: rows[0]!.id } })).to.equal(1);
      expect(await Organization.count()).to.equal(await Membership.count({ where: { role: 'owner' } }));
    });

    it('runs 60 concurrent writes of every kind without stalling or failing', async () => {
      const profile = PROFILE_ADAPTERS[0]!;
      const api = legacyClient(server.url, profile);
      const { user, tokens } = await api.signedIn('writers');
      const started = performance.now();
      const writes = [
        ...Array.from({ length: 20 }, () => api.post('/register', { json: profile.registerBody(newUser('w')) })), // transactions
        ...Array.from({ length: 20 }, (_, i) => api.post('/login', { json: { username: `nobody-${i}`, password: 'wrong-password' } })), // audit rows
        ...Array.from({ length: 20 }, (_, i) => api.put('/users/me', { token: tokens.access, json: { full_name: `Name ${i}` } })), // updates
      ];
      const statuses = (await Promise.all(writes)).map((r) => r.status);
      const ms = performance.now() - started;
      expect(statuses.slice(0, 20).every((s) => s === 200), statuses.join(',')).to.equal(true);
      expect(statuses.slice(20, 40).every((s) => s === 401), statuses.join(',')).to.equal(true);
      expect(statuses.slice(40).every((s) => s === 200), statuses.join(',')).to.equal(true);
      // A stall (waiting writers holding every libuv thread) lasts the 5 s busy timeout at least.
      expect(ms, `${Math.round(ms)} ms`).to.be.below(4000);
      expect(await server.deps.models.AuditEvent.count({ where: { type: 'profile_update' } })).to.be.at.least(20);
      expect(user.username).to.be.a('string');
    });
  });
}
