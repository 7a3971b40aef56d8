import { expect } from 'chai';
import { planKeySet, publicJwk, type StoredKey } from '../../src/services/keys.ts';

const HOUR = 3600;
const t = (iso: string) => new Date(iso);

function key(kid: string, alg: StoredKey['alg'], createdAt: string, supersededAt: string | null = null): StoredKey {
  return { kid, alg, createdAt: t(createdAt), supersededAt: supersededAt === null ? null : t(supersededAt) };
}

describe('planKeySet (signing key rotation rules)', () => {
  const now = t('2025-01-01T12:00:00Z');

  it('signs with the newest key of each algorithm and publishes the current ES256 key first', () => {
    const plan = planKeySet(
      [key('rs-old', 'RS256', '2024-01-01T00:00:00Z', '2024-06-01T00:00:00Z'), key('rs', 'RS256', '2024-06-01T00:00:00Z'), key('es', 'ES256', '2024-01-01T00:00:00Z')],
      now,
      HOUR,
    );
    expect(plan.current.ES256.kid).to.equal('es');
    expect(plan.current.RS256.kid).to.equal('rs');
    expect(plan.published.map((k) => k.kid)).to.deep.equal(['es', 'rs']);
  });

  it('marks a replaced key superseded and keeps publishing it for the token lifetime', () => {
    const keys = [key('es-old', 'ES256', '2025-01-01T00:00:00Z'), key('es-new', 'ES256', '2025-01-01T11:00:00Z'), key('rs', 'RS256', '2025-01-01T00:00:00Z')];
    const plan = planKeySet(keys, now, HOUR);
    expect(plan.toSupersede.map((k) => k.kid)).to.deep.equal(['es-old']);
    expect(plan.published.map((k) => k.kid)).to.deep.equal(['es-new', 'rs', 'es-old']);
  });

  it('stops publishing a superseded key once the longest token lifetime has passed', () => {
    const justInside = planKeySet(
      [key('old', 'ES256', '2024-01-01T00:00:00Z', '2025-01-01T11:00:01Z'), key('new', 'ES256', '2025-01-01T10:00:00Z'), key('rs', 'RS256', '2024-01-01T00:00:00Z')],
      now,
      HOUR,
    );
    expect(justInside.published.map((k) => k.kid)).to.include('old');
    const expired = planKeySet(
      [key('old', 'ES256', '2024-01-01T00:00:00Z', '2025-01-01T11:00:00Z'), key('new', 'ES256', '2025-01-01T10:00:00Z'), key('rs', 'RS256', '2024-01-01T00:00:00Z')],
      now,
      HOUR,
    );
    expect(expired.published.map((k) => k.kid)).to.deep.equal(['new', 'rs']);
    expect(expired.toSupersede).to.deep.equal([]);
  });

  it('orders several old keys newest first', () => {
    const plan = planKeySet(
      [
        key('a', 'ES256', '2025-01-01T09:00:00Z', '2025-01-01T11:30:00Z'),
        key('b', 'ES256', '2025-01-01T10:00:00Z', '2025-01-01T11:40:00Z'),
        key('c', 'ES256', '2025-01-01T11:00:00Z'),
        key('rs', 'RS256', '2025-01-01T00:00:00Z'),
      ],
      now,
      HOUR,
    );
    expect(plan.published.map((k) => k.kid)).to.deep.equal(['c', 'rs', 'b', 'a']);
  });

  it('refuses to plan without a key for every algorithm', () => {
    expect(() => planKeySet([key('es', 'ES256', '2025-01-01T00:00:00Z')], now, HOUR)).to.throw(/RS256/);
  });
});

describe('publicJwk', () => {
  it('keeps only the public members of an EC key', () => {
    const jwk = publicJwk({ kty: 'EC', crv: 'P-256', x: 'X', y: 'Y', d: 'SECRET', kid: 'k', alg: 'ES256', use: 'sig' });
    expect(jwk).to.deep.equal({ kty: 'EC', crv: 'P-256', x: 'X', y: 'Y', kid: 'k', alg: 'ES256', use: 'sig' });
  });

  it('keeps only the public members of an RSA key', () => {
    const jwk = publicJwk({ kty: 'RSA', n: 'N', e: 'AQAB', d: 'D', p: 'P', q: 'Q', dp: 'DP', dq: 'DQ', qi: 'QI', kid: 'k' });
    expect(jwk).to.deep.equal({ kty: 'RSA', n: 'N', e: 'AQAB', kid: 'k' });
  });
});
