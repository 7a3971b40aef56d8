import { expect } from 'chai';
import { createMemoryStore } from '../../src/store/memory-store.ts';
import type { Store } from '../../src/store/store.ts';
import { createSessionService, type SessionRecord, type SessionService } from '../../src/services/sessions.ts';

const USER = '3d1c6f3e-5b0a-4c55-9d4e-2f8f1a0b7c11';
const OTHER = 'b7c11f3e-5b0a-4c55-9d4e-2f8f1a0b3d1c';
const ctx = { door: 'test', ip: '10.1.2.3', userAgent: 'agent/1', deviceId: 'd-1', deviceName: 'Phone' };

/** Counts store calls by method and records the keys, to check key layout and that nothing scans. */
function countingStore(inner: Store) {
  const calls: Record<string, number> = {};
  const keys: string[] = [];
  const wrapped = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls[String(prop)] = (calls[String(prop)] ?? 0) + 1;
        if (typeof args[0] === 'string') keys.push(args[0]);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: wrapped, calls, keys };
}

describe('sessions (src/services/sessions.ts)', () => {
  let clock: number;
  let probe: ReturnType<typeof countingStore>;
  let sessions: SessionService;

  beforeEach(() => {
    clock = Date.parse('2030-01-01T00:00:00Z');
    probe = countingStore(createMemoryStore({ now: () => clock }));
    sessions = createSessionService({ store: probe.store, defaultTtlSeconds: 3600, retentionSeconds: 600, touchIntervalSeconds: 60, now: () => clock });
  });

  it('records the device, user agent and IP, with device_type "unknown" by default, bounded and cleaned', async () => {
    const s = await sessions.create({ userId: USER, kind: 'password', context: { ...ctx, deviceName: `Evil\u0000\nName${'x'.repeat(400)}` } });
    expect(s).to.include({ user_id: USER, kind: 'password', client_id: null, device_id: 'd-1', device_type: 'unknown', user_agent: 'agent/1', ip_address: '10.1.2.3' });
    expect(s.device_name).to.match(/^EvilNamex+$/).and.have.length(255);
    expect(s.created_at).to.equal('2030-01-01T00:00:00.000Z');
    expect(s.expires_at).to.equal('2030-01-01T01:00:00.000Z');
    expect(await sessions.get(USER, s.session_id)).to.deep.equal(s);
  });

  it("keeps a user's session and index under one hash tag, and lists through the index without scanning", async () => {
    const s = await sessions.create({ userId: USER, kind: 'oidc', clientId: 'app', context: ctx });
    expect(probe.keys).to.include(`sess:{u:${USER}}:${s.session_id}`).and.include(`sessions:{u:${USER}}`);
    await sessions.list(USER);
    expect(Object.keys(probe.calls).sort()).to.deep.equal(['getMany', 'indexAdd', 'indexMembers', 'set']);
  });

  it('lists newest first, marks the current one, hides expired ones unless asked, and forgets them after the retention window', async () => {
    const old = await sessions.create({ userId: USER, kind: 'password', context: ctx, ttlSeconds: 60 });
    clock += 1000;
    const current = await sessions.create({ userId: USER, kind: 'password', context: ctx });
    await sessions.create({ userId: OTHER, kind: 'password', context: ctx });
    let list = await sessions.list(USER, { currentSessionId: current.session_id });
    expect(list.map((s) => [s.session_id, s.is_current])).to.deep.equal([[current.session_id, true], [old.session_id, false]]);

    clock += 60_000;
    expect(await sessions.get(USER, old.session_id)).to.equal(undefined);
    expect((await sessions.list(USER)).map((s) => s.session_id)).to.deep.equal([current.session_id]);
    list = await sessions.list(USER, { includeExpired: true });
    expect(list.map((s) => [s.session_id, s.is_active, s.ended_at, s.end_reason])).to.deep.equal([
      [current.session_id, true, null, null],
      [old.session_id, false, old.expires_at, 'expired'],
    ]);

    clock += 601_000;
    expect((await sessions.list(USER, { includeExpired: true })).map((s) => s.session_id)).to.deep.equal([current.session_id]);
  });

  it('writes last_active_at at most once per touch interval', async () => {
    const s = await sessions.create({ userId: USER, kind: 'password', context: ctx });
    clock += 30_000;
    await sessions.touch(USER, s.session_id, s);
    expect((await sessions.get(USER, s.session_id))?.last_active_at).to.equal(s.created_at);
    clock += 31_000;
    await sessions.touch(USER, s.session_id, s);
    expect((await sessions.get(USER, s.session_id))?.last_active_at).to.equal(new Date(clock).toISOString());
  });

  it('renews the expiry and attaches OIDC linkage without losing other fields', async () => {
    const s = await sessions.create({ userId: USER, kind: 'oidc', context: ctx });
    clock += 10_000;
    const renewed = await sessions.renew(USER, s.session_id, 7200);
    expect(renewed?.expires_at).to.equal(new Date(clock + 7_200_000).toISOString());
    const linked = await sessions.update(USER, s.session_id, { oidc: { uid: 'sso-1' }, client_id: 'app' });
    expect(linked).to.include({ client_id: 'app', device_id: 'd-1', expires_at: renewed?.expires_at });
    expect(linked?.oidc).to.deep.equal({ uid: 'sso-1' });
  });

  it('revokes one session, telling the listeners, and only for its own user', async () => {
    const seen: [SessionRecord, { reason: string; all: boolean }][] = [];
    sessions.onRevoke(async (session, event) => void seen.push([session, event]));
    const s = await sessions.create({ userId: USER, kind: 'oidc', context: ctx });
    expect(await sessions.revoke(OTHER, s.session_id, 'revoked')).to.equal(false);
    expect(await sessions.revoke(USER, s.session_id, 'admin')).to.equal(true);
    expect(await sessions.get(USER, s.session_id)).to.equal(undefined);
    expect(await sessions.revoke(USER, s.session_id, 'revoked')).to.equal(false);
    expect(seen.map(([session, event]) => [session.session_id, event])).to.deep.equal([[s.session_id, { reason: 'admin', all: false }]]);
  });

  it('keeps the session when a listener fails, so the revocation can be retried', async () => {
    let fail = true;
    sessions.onRevoke(async () => {
      if (fail) throw new Error('grant store down');
    });
    const s = await sessions.create({ userId: USER, kind: 'oidc', context: ctx });
    let error: unknown;
    await sessions.revoke(USER, s.session_id, 'revoked').catch((err: unknown) => (error = err));
    expect(error).to.be.instanceOf(Error);
    expect(await sessions.get(USER, s.session_id)).to.not.equal(undefined);
    fail = false;
    expect(await sessions.revoke(USER, s.session_id, 'revoked')).to.equal(true);
  });

  it('revokes all sessions but the one kept, counting the live ones, and tells the user-wide listeners', async () => {
    const users: [string, string, string | undefined][] = [];
    sessions.onRevokeAll(async (userId, event) => void users.push([userId, event.reason, event.exceptSessionId]));
    const keep = await sessions.create({ userId: USER, kind: 'password', context: ctx });
    await sessions.create({ userId: USER, kind: 'password', context: ctx });
    await sessions.create({ userId: USER, kind: 'oidc', context: ctx });
    await sessions.create({ userId: USER, kind: 'password', context: ctx, ttlSeconds: 1 });
    const stranger = await sessions.create({ userId: OTHER, kind: 'password', context: ctx });
    clock += 2000;
    expect(await sessions.revokeAll(USER, { exceptSessionId: keep.session_id, reason: 'password_change' })).to.equal(2);
    expect((await sessions.list(USER)).map((s) => s.session_id)).to.deep.equal([keep.session_id]);
    const all = await sessions.list(USER, { includeExpired: true });
    expect(all).to.have.length(4);
    expect(all.filter((s) => !s.is_active).map((s) => s.end_reason)).to.deep.equal(['password_change', 'password_change', 'password_change']);
    expect(await sessions.get(OTHER, stranger.session_id)).to.not.equal(undefined);
    expect(users).to.deep.equal([[USER, 'password_change', keep.session_id]]);
  });

  it('ends softly: an ended session is never live again, stays listable with its reason, and leaves the store after the retention window', async () => {
    const s = await sessions.create({ userId: USER, kind: 'password', context: ctx, ttlSeconds: 86_400 });
    expect(s).to.deep.include({ amr: ['pwd'], ended_at: null, end_reason: null });
    clock += 5000;
    expect(await sessions.revoke(USER, s.session_id, 'logout')).to.equal(true);
    expect(await sessions.get(USER, s.session_id)).to.equal(undefined);
    expect(await sessions.renew(USER, s.session_id, 3600)).to.equal(undefined);
    expect(await sessions.list(USER)).to.deep.equal([]);
    const [ended] = await sessions.list(USER, { includeExpired: true });
    expect(ended).to.deep.include({ session_id: s.session_id, is_active: false, ended_at: new Date(clock).toISOString(), end_reason: 'logout', amr: ['pwd'] });
    // Retention (600 s here) counts from the end, not from the far-away expiry.
    clock += 599_000;
    expect(await sessions.list(USER, { includeExpired: true })).to.have.length(1);
    clock += 2000;
    expect(await sessions.list(USER, { includeExpired: true })).to.deep.equal([]);
    expect(await probe.store.get(`sess:{u:${USER}}:${s.session_id}`)).to.equal(undefined);
    expect(await probe.store.indexMembers(`sessions:{u:${USER}}`)).to.deep.equal([]);
  });

  it('answers unsafe ids without touching the store', async () => {
    const before = { ...probe.calls };
    expect(await sessions.get('{u:x}', 'a')).to.equal(undefined);
    expect(await sessions.get(USER, '../../x')).to.equal(undefined);
    expect(await sessions.revoke(USER, 'a:b', 'revoked')).to.equal(false);
    expect(await sessions.list('*')).to.deep.equal([]);
    expect(probe.calls).to.deep.equal(before);
  });
});
