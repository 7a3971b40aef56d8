import { EventEmitter } from 'node:events';
import { expect } from 'chai';
import type Provider from 'oidc-provider';
import { clientIp } from '../../src/http/client-ip.ts';
import { auditProviderEvents } from '../../src/oidc/audit-events.ts';
import type { AuditEventInput } from '../../src/services/audit.ts';

describe('the client address every door records (src/http/client-ip.ts)', () => {
  it('records an IPv4 client on a dual-stack socket by its IPv4 address, and leaves others alone', () => {
    expect(clientIp({ ip: '::ffff:10.0.0.1' })).to.equal('10.0.0.1');
    expect(clientIp({ ip: '10.0.0.1' })).to.equal('10.0.0.1');
    expect(clientIp({ ip: '2001:db8::1' })).to.equal('2001:db8::1');
    expect(clientIp({ ip: '::1' })).to.equal('::1');
    expect(clientIp({ ip: '' })).to.equal(undefined);
  });

  it('is what the OIDC door writes into its audit rows (RP-initiated logout)', () => {
    const provider = new EventEmitter();
    const recorded: AuditEventInput[] = [];
    auditProviderEvents(provider as unknown as Provider, { record: async (event) => void recorded.push(event) });
    const ctx = { ip: '::ffff:10.0.0.1', get: () => 'agent/1', oidc: { session: { accountId: 'u-1' }, client: { clientId: 'app' } } };
    provider.emit('end_session.success', ctx);
    expect(recorded).to.have.length(1);
    expect(recorded[0]).to.include({ type: 'logout', ip: '10.0.0.1', userAgent: 'agent/1', clientId: 'app', userId: 'u-1' });
  });
});
