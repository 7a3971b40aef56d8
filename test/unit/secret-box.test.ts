import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { SEALED_PREFIX, SecretBoxError, createSecretBox, isSealed } from '../../src/services/secret-box.ts';

describe('secret box (src/services/secret-box.ts)', () => {
  const key = randomBytes(32);
  const box = createSecretBox(key);
  const jwk = JSON.stringify({ kty: 'EC', crv: 'P-256', d: 'private-part', x: 'x', y: 'y' });

  it('seals into a recognisable one-line value that opens only with the same key and context', () => {
    const sealed = box.seal(jwk, 'signing-key:k1');
    expect(sealed.startsWith(SEALED_PREFIX)).to.equal(true);
    expect(sealed).to.match(/^enc:v1:[\w-]+:[\w-]+:[\w-]+:[\w-]+$/);
    expect(sealed).not.to.include('private-part');
    expect(isSealed(sealed)).to.equal(true);
    expect(isSealed(jwk), 'plaintext JSON is told apart').to.equal(false);
    expect(box.open(sealed, 'signing-key:k1')).to.equal(jwk);
    // A fresh IV every time: sealing twice never gives the same text.
    expect(box.seal(jwk, 'signing-key:k1')).not.to.equal(sealed);
    // A key given as more than 32 bytes works the same way.
    const long = createSecretBox(randomBytes(64));
    expect(long.open(long.seal('x', 'c'), 'c')).to.equal('x');
  });

  it('refuses another KEY_ENCRYPTION_KEY by name, and an altered value or another context as undecryptable', () => {
    const sealed = box.seal(jwk, 'signing-key:k1');
    const other = createSecretBox(randomBytes(32));
    expect(other.keyId).not.to.equal(box.keyId);
    expect(() => other.open(sealed, 'signing-key:k1')).to.throw(SecretBoxError, /different KEY_ENCRYPTION_KEY \(key id [\w-]+; the configured key has id [\w-]+\)/);
    expect(() => box.open(sealed, 'signing-key:k2')).to.throw(SecretBoxError, /does not decrypt/);
    const parts = sealed.split(':');
    const flipped = Buffer.from(parts[5]!, 'base64url');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(() => box.open([...parts.slice(0, 5), flipped.toString('base64url')].join(':'), 'signing-key:k1')).to.throw(SecretBoxError, /does not decrypt/);
    expect(() => box.open(`${SEALED_PREFIX}${box.keyId}:short`, 'signing-key:k1')).to.throw(SecretBoxError, /malformed/);
    expect(() => box.open(jwk, 'signing-key:k1')).to.throw(SecretBoxError, /not a sealed value/);
    // A later format is recognised as sealed (never sealed again as if it were plaintext), and named.
    expect(isSealed('enc:v2:abc:def')).to.equal(true);
    expect(() => box.open('enc:v2:abc:def', 'signing-key:k1')).to.throw(SecretBoxError, /format this version cannot read \(enc:v2\)/);
  });

  it('refuses a key shorter than 32 bytes', () => {
    expect(() => createSecretBox(randomBytes(31))).to.throw(/at least 32 bytes/);
  });
});
