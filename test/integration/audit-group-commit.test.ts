/**
 * The audit service's group commit (src/services/audit.ts) on both databases: events recorded while an
 * INSERT is in flight go together in the next one; every record() resolves once its event is written
 * or counted as lost; a failed batch never rejects.
 */
import { expect } from 'chai';
import { QueryTypes } from 'sequelize';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from '../helpers/database.ts';
import { captureLogs } from '../helpers/log-capture.ts';
import { auditWriter, createAuditService, type AuditRow } from '../../src/services/audit.ts';

for (const kind of DATABASE_KINDS) {
  describe(`audit group commit (src/services/audit.ts) on ${kind}`, function () {
    this.timeout(20_000);
    let db: TestDatabase;
    let inserts: number[];

    before(async function () {
      db = await createTestDatabase(kind, { mocha: this });
    });
    after(async () => db?.drop());
    beforeEach(() => {
      inserts = [];
    });

    /** The real writer, counting the INSERT statements and how many rows each carried. */
    function countingWriter(fail?: () => boolean) {
      const write = auditWriter(db.sequelize);
      return (rows: readonly AuditRow[]) => {
        inserts.push(rows.length);
        return fail?.() ? Promise.reject(new Error('table is broken')) : write(rows);
      };
    }

    async function count(type: string): Promise<number> {
      const rows = await db.sequelize.query<{ n: number | string }>('SELECT COUNT(*) AS n FROM audit_events WHERE type = :type', { type: QueryTypes.SELECT, replacements: { type } });
      return Number(rows[0]!.n);
    }

    it('writes an event at once when nothing is in flight, and it is readable when record() resolves', async () => {
      const audit = createAuditService({ models: db.models, logger: captureLogs('info').logger, write: countingWriter() });
      const recorded = audit.record({ type: 'solo', outcome: 'success', userId: null, ip: '10.0.0.1', userAgent: 'ua', detail: { door: 'test', n: 1 } });
      expect(inserts, 'the INSERT starts without waiting for anything').to.deep.equal([1]);
      await recorded;
      const [event] = await db.models.AuditEvent.findAll({ where: { type: 'solo' } });
      expect(event).to.include({ outcome: 'success', ip: '10.0.0.1', userAgent: 'ua', userId: null, clientId: null });
      expect(event!.detail).to.deep.equal({ door: 'test', n: 1 });
      expect(event!.createdAt.getTime()).to.be.closeTo(Date.now(), 5000);
    });

    it('writes events recorded during an INSERT together in the next one, and loses none', async () => {
      const audit = createAuditService({ models: db.models, logger: captureLogs('info').logger, maxBatch: 20, write: countingWriter() });
      const all = Array.from({ length: 50 }, (_, i) => audit.record({ type: 'burst', outcome: i % 2 ? 'success' : 'failure', detail: { i } }));
      await Promise.all(all);
      expect(await count('burst')).to.equal(50);
      // The first alone (nothing was in flight), the 49 that came meanwhile in batches of at most 20.
      expect(inserts).to.deep.equal([1, 20, 20, 9]);
      expect(audit.failures()).to.equal(0);
      const details = (await db.models.AuditEvent.findAll({ where: { type: 'burst' } })).map((event) => (event.detail as { i: number }).i);
      expect(details.sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i));
    });

    it('counts and logs every event of a failed batch, resolves every record(), and goes on writing', async () => {
      const logs = captureLogs('info');
      let failNext = 2;
      const audit = createAuditService({ models: db.models, logger: logs.logger, write: countingWriter(() => failNext-- > 0) });
      const first = [audit.record({ type: 'lost', outcome: 'success' }), audit.record({ type: 'lost', outcome: 'failure' }), audit.record({ type: 'lost', outcome: 'success' })];
      await Promise.all(first);
      expect(inserts).to.deep.equal([1, 2]);
      expect(audit.failures()).to.equal(3);
      const lines = logs.lines().filter((line) => line.msg === 'audit event not recorded');
      expect(lines.map((line) => `${String(line.type)}:${String(line.outcome)}`)).to.deep.equal(['lost:success', 'lost:failure', 'lost:success']);
      await audit.record({ type: 'after', outcome: 'success' });
      expect(await count('lost')).to.equal(0);
      expect(await count('after')).to.equal(1);
      expect(audit.failures()).to.equal(3);
    });

    it('loses only an event whose detail is not JSON', async () => {
      const audit = createAuditService({ models: db.models, logger: captureLogs('info').logger });
      await Promise.all([audit.record({ type: 'odd', outcome: 'success', detail: { big: 1n } }), audit.record({ type: 'odd', outcome: 'failure' })]);
      expect(audit.failures()).to.equal(1);
      expect(await count('odd')).to.equal(1);
    });

    it('flush() waits for the events still being written (shutdown)', async () => {
      const audit = createAuditService({ models: db.models, logger: captureLogs('info').logger });
      for (let i = 0; i < 10; i += 1) void audit.record({ type: 'flushed', outcome: 'success' });
      await audit.flush();
      expect(await count('flushed')).to.equal(10);
    });
  });
}
