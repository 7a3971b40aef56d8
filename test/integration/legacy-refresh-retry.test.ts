/**
 * REFRESH_REUSE_INTERVAL at the legacy door (CONTRACT §5, §11): under `rotate`, a just-rotated refresh token
 * presented again within the interval gets the same successor pair (an idempotent retry; parallel refreshes
 * of one token all get it), and a replay after the interval still ends the whole session.
 */
import { expect } from 'chai';
import { MODES, startTestServer, type TestServer } from '../helpers/app.ts';
import { ALL_PROFILES, PROFILE_ADAPTERS, legacyClient, type LegacyClient } from '../helpers/legacy-client.ts';

const INTERVAL_SECONDS = 2;
const aurora = PROFILE_ADAPTERS.find((profile) => profile.name === 'aurora')!;

for (const mode of MODES) {
  describe(`legacy refresh retries inside REFRESH_REUSE_INTERVAL (${mode.name})`, function () {
    this.timeout(60_000);
    let server: TestServer;
    let api: LegacyClient;

    before(async function () {
      server = await startTestServer({
        database: mode.database,
        store: mode.store,
        mocha: this,
        env: { COMPAT_PROFILES: ALL_PROFILES, REFRESH_REUSE_INTERVAL: String(INTERVAL_SECONDS) },
      });
      api = legacyClient(server.url, aurora);
    });
    after(() => server?.close());

    const refresh = (token: string) => api.post('/refresh', { json: { refresh_token: token } });

    it('answers a retry of a just-rotated token with the same pair, and the session goes on', async () => {
      const { tokens } = await api.signedIn('retry');
      const first = await refresh(tokens.refresh);
      expect(first.status).to.equal(200);
      const again = await refresh(tokens.refresh);
      expect(again.status).to.equal(200);
      expect(aurora.tokens(again.body)).to.deep.equal(aurora.tokens(first.body));
      const successor = aurora.tokens(first.body);
      expect((await api.get('/me', { token: successor.access })).status).to.equal(200);
      expect((await refresh(successor.refresh)).status, 'the successor rotates as usual').to.equal(200);
    });

    it('gives 10 parallel refreshes of one token the same successor, which then works', async () => {
      const { tokens } = await api.signedIn('parallel');
      const results = await Promise.all(Array.from({ length: 10 }, () => refresh(tokens.refresh)));
      expect(results.map((result) => result.status)).to.deep.equal(Array(10).fill(200));
      const pairs = new Set(results.map((result) => JSON.stringify(aurora.tokens(result.body))));
      expect(pairs.size, 'one successor pair').to.equal(1);
      const successor = aurora.tokens(results[0]!.body);
      expect((await refresh(successor.refresh)).status).to.equal(200);
    });

    it('still ends the whole session when the rotated token comes back after the interval', async () => {
      const { tokens } = await api.signedIn('late');
      const first = await refresh(tokens.refresh);
      const successor = aurora.tokens(first.body);
      await new Promise((resolve) => setTimeout(resolve, INTERVAL_SECONDS * 1000 + 300));
      expect((await refresh(tokens.refresh)).status, 'the late replay').to.equal(401);
      expect((await api.get('/me', { token: successor.access })).status, 'the session is gone').to.equal(401);
      expect((await refresh(successor.refresh)).status).to.equal(401);
    });
  });
}
