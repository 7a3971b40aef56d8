import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { errors } from 'oidc-provider';
import type { Client, ClientMetadata, KoaContextWithOIDC } from 'oidc-provider';
import { createPasswordService } from '../../src/services/passwords.ts';
import { generateClientSecret, hashClientSecret, verifyClientSecret } from '../../src/services/client-secrets.ts';
import { loadClientsFile, ClientsFileError } from '../../src/oidc/clients.ts';
import { clientBasedCors, validateExtraClientMetadata, webOriginsOf } from '../../src/oidc/client-metadata.ts';

const ctx = {} as KoaContextWithOIDC;
const client = (fields: Record<string, unknown>) => fields as unknown as Client;

describe('OIDC client secrets', () => {
  it('stores a generated secret only as its hash and verifies it in constant time', async () => {
    const secret = generateClientSecret();
    expect(Buffer.from(secret, 'base64url')).to.have.length(32);
    const stored = hashClientSecret(secret);
    expect(stored).to.match(/^sha256\$/).and.not.include(secret);
    expect(await verifyClientSecret(secret, stored)).to.equal(true);
    expect(await verifyClientSecret(`${secret}x`, stored)).to.equal(false);
    expect(await verifyClientSecret('', stored)).to.equal(false);
  });

  it('accepts argon2 hashes (imported secrets) and never a plain stored value', async () => {
    const passwords = createPasswordService({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
    const stored = await passwords.hash('imported-secret');
    expect(await verifyClientSecret('imported-secret', stored, passwords)).to.equal(true);
    expect(await verifyClientSecret('other', stored, passwords)).to.equal(false);
    expect(await verifyClientSecret('plain', 'plain', passwords), 'a plain value is not a hash').to.equal(false);
  });
});

describe('OIDC_CLIENTS_FILE', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'idp-clients-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, content: unknown) => {
    const file = path.join(dir, name);
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
    return file;
  };

  it('loads client metadata and replaces plain secrets by their hash', async () => {
    const [loaded] = loadClientsFile(write('ok.json', [{ client_id: 'a', client_secret: 's3cret-value', first_party: true, redirect_uris: ['https://a.example/cb'] }]));
    expect(loaded).to.include({ client_id: 'a', first_party: true });
    expect(loaded?.client_secret).to.equal(hashClientSecret('s3cret-value'));
    expect(await verifyClientSecret('s3cret-value', loaded?.client_secret)).to.equal(true);
  });

  it('names the problem: unreadable JSON, not an array, a missing or duplicate client_id, a bad first_party', () => {
    expect(() => loadClientsFile(write('bad.json', '{'))).to.throw(ClientsFileError, /OIDC_CLIENTS_FILE/);
    expect(() => loadClientsFile(write('obj.json', { client_id: 'a' }))).to.throw(ClientsFileError, /JSON array/);
    expect(() => loadClientsFile(write('noid.json', [{ redirect_uris: [] }]))).to.throw(ClientsFileError, /entry 0: client_id/);
    expect(() => loadClientsFile(write('dup.json', [{ client_id: 'a' }, { client_id: 'a' }]))).to.throw(ClientsFileError, /duplicate client_id a/);
    expect(() => loadClientsFile(write('fp.json', [{ client_id: 'a', first_party: 'yes' }]))).to.throw(ClientsFileError, /first_party/);
    expect(() => loadClientsFile(path.join(dir, 'missing.json'))).to.throw(ClientsFileError);
  });
});

describe('OIDC client metadata: first_party and web_origins', () => {
  it('defaults first_party to false and refuses a non-boolean', () => {
    const metadata = { client_id: 'a' } as ClientMetadata;
    validateExtraClientMetadata(undefined, 'first_party', undefined, metadata);
    expect(metadata.first_party).to.equal(false);
    expect(() => validateExtraClientMetadata(undefined, 'first_party', 'yes', metadata)).to.throw(errors.InvalidClientMetadata);
  });

  it('accepts origins only (a trailing slash is tolerated), never paths or other schemes', () => {
    const metadata = { client_id: 'a' } as ClientMetadata;
    validateExtraClientMetadata(undefined, 'web_origins', ['https://app.example', 'http://localhost:5173/'], metadata);
    expect(metadata.web_origins).to.deep.equal(['https://app.example', 'http://localhost:5173']);
    for (const bad of [['https://app.example/path'], ['javascript:alert(1)'], 'https://app.example', [42]]) {
      expect(() => validateExtraClientMetadata(undefined, 'web_origins', bad, metadata), JSON.stringify(bad)).to.throw(errors.InvalidClientMetadata);
    }
  });

  it('allows CORS from registered web origins; else a public web client from its redirect origins; else nobody', () => {
    const registered = client({ web_origins: ['https://app.example'], clientAuthMethod: 'client_secret_basic', redirectUris: ['https://other.example/cb'] });
    expect(clientBasedCors(ctx, 'https://app.example', registered)).to.equal(true);
    expect(clientBasedCors(ctx, 'https://other.example', registered)).to.equal(false);

    const spa = client({ clientAuthMethod: 'none', applicationType: 'web', redirectUris: ['https://spa.example/cb', 'http://localhost:3000/x'] });
    expect([...webOriginsOf(spa)]).to.deep.equal(['https://spa.example', 'http://localhost:3000']);
    expect(clientBasedCors(ctx, 'https://spa.example', spa)).to.equal(true);
    expect(clientBasedCors(ctx, 'null', spa)).to.equal(false);

    const confidential = client({ clientAuthMethod: 'client_secret_basic', applicationType: 'web', redirectUris: ['https://web.example/cb'] });
    expect(clientBasedCors(ctx, 'https://web.example', confidential)).to.equal(false);
    const native = client({ clientAuthMethod: 'none', applicationType: 'native', redirectUris: ['http://127.0.0.1/cb'] });
    expect(clientBasedCors(ctx, 'http://127.0.0.1', native)).to.equal(false);
  });
});

describe('client metadata token_exchange and dynamically_registered (CONTRACT §11)', () => {
  const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
  const registrationCtx = { oidc: { route: 'registration' } } as unknown as KoaContextWithOIDC;

  it('token_exchange: true alone puts the grant type in grant_types (clients file and admin API alike); false takes it out', () => {
    const allowed = { grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic' } as unknown as ClientMetadata;
    validateExtraClientMetadata(ctx, 'token_exchange', true, allowed);
    expect(allowed.grant_types).to.deep.equal(['client_credentials', TOKEN_EXCHANGE]);
    const listedWithoutFlag = { grant_types: [TOKEN_EXCHANGE], token_endpoint_auth_method: 'client_secret_basic' } as unknown as ClientMetadata;
    validateExtraClientMetadata(ctx, 'token_exchange', undefined, listedWithoutFlag);
    expect(listedWithoutFlag.grant_types).to.deep.equal([]);
  });

  it('refuses token_exchange for a public client and a non-boolean value', () => {
    expect(() => validateExtraClientMetadata(ctx, 'token_exchange', true, { token_endpoint_auth_method: 'none' } as unknown as ClientMetadata)).to.throw(errors.InvalidClientMetadata);
    expect(() => validateExtraClientMetadata(ctx, 'token_exchange', 'yes', {} as unknown as ClientMetadata)).to.throw(errors.InvalidClientMetadata);
  });

  it('a registrant can set neither first_party nor token_exchange, and its client is always marked dynamically_registered', () => {
    expect(() => validateExtraClientMetadata(registrationCtx, 'first_party', true, {} as unknown as ClientMetadata)).to.throw(errors.InvalidClientMetadata);
    expect(() => validateExtraClientMetadata(registrationCtx, 'token_exchange', true, {} as unknown as ClientMetadata)).to.throw(errors.InvalidClientMetadata);
    const metadata = { dynamically_registered: false } as unknown as ClientMetadata;
    validateExtraClientMetadata(registrationCtx, 'dynamically_registered', false, metadata);
    expect(metadata.dynamically_registered).to.equal(true);
  });
});
