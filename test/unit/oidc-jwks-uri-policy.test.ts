import { expect } from 'chai';
import { createJwksUriCheck, isInternalAddress } from '../../src/oidc/jwks-uri-policy.ts';

async function refusal(check: ReturnType<typeof createJwksUriCheck>, uri: string): Promise<string | undefined> {
  try {
    await check(uri);
    return undefined;
  } catch (err) {
    return (err as { error_description?: string }).error_description;
  }
}

describe('jwks_uri policy (CONTRACT §4)', () => {
  it('knows loopback, private, link-local and other special-use addresses, IPv4-mapped ones included', () => {
    for (const address of ['127.0.0.1', '127.9.9.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1']) {
      expect(isInternalAddress(address), address).to.equal(true);
    }
    for (const address of ['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700:4700::1111', 'not-an-address']) {
      expect(isInternalAddress(address), address).to.equal(false);
    }
  });

  it('refuses literal internal addresses without resolving anything', async () => {
    const check = createJwksUriCheck(async () => {
      throw new Error('no lookups for literal addresses');
    });
    expect(await refusal(check, 'https://127.0.0.1/jwks')).to.equal('jwks_uri must not point at a loopback, private or link-local address: 127.0.0.1');
    expect(await refusal(check, 'https://[::1]:8443/jwks')).to.match(/^jwks_uri must not point at .*: ::1$/);
    expect(await refusal(check, 'http://169.254.169.254/latest/meta-data')).to.match(/^jwks_uri must not/);
    expect(await refusal(check, 'https://93.184.216.34/jwks')).to.equal(undefined);
  });

  it('resolves a host name and refuses it when any of its addresses is internal, or when it does not resolve', async () => {
    const dns: Record<string, string[]> = {
      'keys.example.com': ['93.184.216.34', '2606:2800:220:1::1'],
      'rebind.example.com': ['93.184.216.34', '10.0.0.5'],
    };
    const check = createJwksUriCheck(async (host) => dns[host] ?? []);
    expect(await refusal(check, 'https://keys.example.com/jwks.json')).to.equal(undefined);
    expect(await refusal(check, 'https://rebind.example.com/jwks.json')).to.equal(
      'jwks_uri must not point at a loopback, private or link-local address: rebind.example.com (10.0.0.5)',
    );
    expect(await refusal(check, 'https://nowhere.example.com/jwks.json')).to.equal('jwks_uri host nowhere.example.com could not be resolved');
    expect(await refusal(check, undefined as unknown as string)).to.equal(undefined);
  });
});
