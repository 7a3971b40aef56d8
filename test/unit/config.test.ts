import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, ConfigError } from '../../src/config.ts';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('configuration (src/config.ts)', () => {
  it('runs the embedded default with no environment at all', () => {
    const config = loadConfig({});
    expect(config.port).to.equal(3000);
    expect(config.host).to.equal('0.0.0.0');
    expect(config.publicUrl).to.equal('http://localhost:3000');
    expect(config.issuer).to.equal('http://localhost:3000/oidc');
    expect(config.database.embedded).to.equal(true);
    expect(config.database.url).to.match(/^sqlite:\/.*data\/idp\.sqlite$/);
    expect(config.redis.embedded).to.equal(true);
    expect(config.database.migrateOnStart).to.equal(true);
    expect(config.tokens).to.deep.equal({ accessTokenTtl: 1800, refreshTokenTtl: 2_592_000 });
    // Each profile's defaults copy its original service (CONTRACT §3 "Mounts and their options").
    const jwks = { signing: 'jwks' };
    expect(config.compatProfiles).to.deep.equal([
      { prefix: '/auth', profile: 'auth-service', accessTokenTtl: 86_400, refresh: 'reuse', refreshTokenFormat: 'jwt', requireEmailVerification: false, missingBearer: 401, token: jwks },
      { prefix: '/api/v1/auth', profile: 'aurora', accessTokenTtl: 1800, refresh: 'rotate', refreshTokenFormat: 'opaque', requireEmailVerification: false, missingBearer: 403, token: jwks },
      { prefix: '/api/v2/auth', profile: 'v2', accessTokenTtl: 1800, refresh: 'rotate', refreshTokenFormat: 'opaque', requireEmailVerification: false, missingBearer: 401, token: jwks },
    ]);
    expect(config.mail.outboxDir).to.match(/data\/outbox$/);
  });

  it("sizes the password-hash queue from Node's UV_THREADPOOL_SIZE (default 4), and refuses a bad value", () => {
    expect(loadConfig({}).hashThreads).to.equal(4);
    expect(loadConfig({ UV_THREADPOOL_SIZE: '8' }).hashThreads).to.equal(8);
    expect(problemsOf({ UV_THREADPOOL_SIZE: 'lots' })).to.deep.equal(['UV_THREADPOOL_SIZE: expected an integer from 1 to 1024']);
    expect(problemsOf({ UV_THREADPOOL_SIZE: '0' })).to.have.length(1);
  });

  it('lets the environment win over config files, and derives the issuer from PUBLIC_URL', () => {
    const config = loadConfig({
      PORT: '4000',
      PUBLIC_URL: 'https://id.example.com/',
      DATABASE_URL: 'postgres://u@db/idp',
      DATABASE_READ_URLS: 'postgres://u@r1/idp, postgres://u@r2/idp',
      REDIS_CLUSTER_NODES: '10.0.0.1:7000,10.0.0.2:7000',
      CORS_ORIGINS: 'https://app.example.com,https://admin.example.com/',
      COMPAT_PROFILES: '/api/v1/auth=envelope',
      OIDC_RESOURCES: '{"https://api.example.com":{"scope":"read write","accessTokenTTL":600}}',
      REQUIRE_EMAIL_VERIFICATION: 'true',
      TRUST_PROXY: '1',
    });
    expect(config.port).to.equal(4000);
    expect(config.issuer).to.equal('https://id.example.com/oidc');
    expect(config.database).to.include({ url: 'postgres://u@db/idp', embedded: false });
    expect(config.database.readUrls).to.deep.equal(['postgres://u@r1/idp', 'postgres://u@r2/idp']);
    expect(config.redis).to.deep.include({ embedded: false, clusterNodes: ['10.0.0.1:7000', '10.0.0.2:7000'] });
    expect(config.corsOrigins).to.deep.equal(['https://app.example.com', 'https://admin.example.com']);
    expect(config.compatProfiles).to.deep.equal([
      { prefix: '/api/v1/auth', profile: 'envelope', accessTokenTtl: 1800, refresh: 'rotate', refreshTokenFormat: 'opaque', requireEmailVerification: true, missingBearer: 403, token: { signing: 'jwks' } },
    ]);
    expect(config.oidc.resources).to.deep.equal({ 'https://api.example.com': { scope: 'read write', accessTokenTTL: 600 } });
    expect(config.requireEmailVerification).to.equal(true);
    expect(config.trustProxy).to.equal(true);
  });

  it('names every bad key, one problem each', () => {
    const problems = problemsOf({
      PORT: 'eighty',
      DATABASE_URL: 'mysql://x',
      REDIS_URL: 'http://redis',
      ACCESS_TOKEN_TTL: '-5',
      COMPAT_PROFILES: '/auth=unknown-profile',
      OIDC_RESOURCES: '{not json',
      LOG_LEVEL: 'loud',
    });
    for (const key of ['PORT', 'DATABASE_URL', 'REDIS_URL', 'ACCESS_TOKEN_TTL', 'COMPAT_PROFILES', 'OIDC_RESOURCES', 'LOG_LEVEL']) {
      expect(problems.filter((p) => p.startsWith(`${key}:`)), key).to.have.length(1);
    }
    expect(problems).to.have.length(7);
  });

  it('reads KEY_ENCRYPTION_KEY as hex or base64 of 32+ bytes, and names it when it is anything else', () => {
    const bytes = Buffer.from(Array.from({ length: 32 }, (_, i) => i * 7 + 1));
    expect(loadConfig({ KEY_ENCRYPTION_KEY: bytes.toString('hex') }).keyEncryptionKey).to.deep.equal(bytes);
    expect(loadConfig({ KEY_ENCRYPTION_KEY: bytes.toString('base64') }).keyEncryptionKey).to.deep.equal(bytes);
    expect(loadConfig({ KEY_ENCRYPTION_KEY: bytes.toString('base64url') }).keyEncryptionKey).to.deep.equal(bytes);
    expect(loadConfig({}).keyEncryptionKey).to.equal(undefined);
    for (const bad of [bytes.subarray(0, 31).toString('base64'), bytes.subarray(0, 31).toString('hex'), 'not a key!', 'x']) {
      expect(problemsOf({ KEY_ENCRYPTION_KEY: bad }), bad).to.deep.equal([
        'KEY_ENCRYPTION_KEY: expected 32 or more random bytes as base64 or hex (e.g. `openssl rand -base64 32`)',
      ]);
    }
  });

  it('reads COMPAT_PROFILES as a JSON array of mount objects, with an HS256 secret from the named variable', () => {
    const config = loadConfig({
      ACCESS_TOKEN_TTL: '900',
      REQUIRE_EMAIL_VERIFICATION: 'true',
      AURORA_SECRET_KEY: 's'.repeat(40),
      COMPAT_PROFILES: JSON.stringify([
        { prefix: '/api/v1/auth', profile: 'aurora', token: { signing: 'HS256', secret_env: 'AURORA_SECRET_KEY' } },
        { prefix: '/auth', profile: 'auth-service', access_token_ttl: 600, refresh: 'rotate', refresh_token_format: 'opaque', missing_bearer: 403 },
        { prefix: '/v2', profile: 'v2', require_email_verification: false, token: { signing: 'HS256', secret_env: 'AURORA_SECRET_KEY', sub: 'number' } },
      ]),
    });
    const [aurora, authService, v2] = config.compatProfiles;
    expect(aurora).to.deep.include({ accessTokenTtl: 900, refresh: 'rotate', requireEmailVerification: true, missingBearer: 403 });
    expect(aurora?.token).to.deep.equal({ signing: 'HS256', secretEnv: 'AURORA_SECRET_KEY', secret: 's'.repeat(40), sub: 'username' });
    expect(authService).to.deep.include({ accessTokenTtl: 600, refresh: 'rotate', refreshTokenFormat: 'opaque', missingBearer: 403, token: { signing: 'jwks' } });
    expect(v2).to.deep.include({ requireEmailVerification: false, token: { signing: 'HS256', secretEnv: 'AURORA_SECRET_KEY', secret: 's'.repeat(40), sub: 'number' } });
  });

  it('takes the mount array from `compat` in config/<NODE_ENV>.json, unless the environment sets COMPAT_PROFILES', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'idp-config-'));
    try {
      const defaults = JSON.parse(readFileSync(path.join(import.meta.dirname, '../../config/default.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(path.join(dir, 'default.json'), JSON.stringify({ ...defaults, COMPAT_PROFILES: '/auth=auth-service' }));
      writeFileSync(path.join(dir, 'development.json'), JSON.stringify({ compat: [{ prefix: '/api/env/auth', profile: 'envelope', require_email_verification: false }] }));
      const fromFile = loadConfig({}, dir);
      expect(fromFile.compatProfiles.map((m) => [m.prefix, m.profile, m.requireEmailVerification])).to.deep.equal([['/api/env/auth', 'envelope', false]]);
      expect(loadConfig({ COMPAT_PROFILES: '/x=v2' }, dir).compatProfiles.map((m) => m.prefix)).to.deep.equal(['/x']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names every bad mount option, one line each', () => {
    const problems = problemsOf({
      COMPAT_PROFILES: JSON.stringify([
        { prefix: '/a', profile: 'aurora', refresh: 'sometimes', missing_bearer: 404 },
        { prefix: '/b', profile: 'v2', token: { signing: 'HS256', secret_env: 'NOT_SET_ANYWHERE' }, colour: 'blue' },
        { prefix: '/a', profile: 'envelope', token: { signing: 'none' } },
      ]),
    });
    expect(problems.some((p) => p.startsWith('COMPAT_PROFILES[0].refresh:'))).to.equal(true);
    expect(problems.some((p) => p.startsWith('COMPAT_PROFILES[0].missing_bearer:'))).to.equal(true);
    expect(problems.some((p) => p.startsWith('COMPAT_PROFILES[1]') && p.includes('colour'))).to.equal(true);
    expect(problems.some((p) => p.startsWith('COMPAT_PROFILES[2].token.signing:'))).to.equal(true);
    expect(problemsOf({ COMPAT_PROFILES: '[{"prefix":"/b","profile":"v2","token":{"signing":"HS256","secret_env":"NOT_SET_ANYWHERE"}}]' })).to.deep.equal([
      'COMPAT_PROFILES[0].token.secret_env: environment variable NOT_SET_ANYWHERE is not set',
    ]);
    expect(problemsOf({ COMPAT_PROFILES: '[{"prefix":"/a","profile":"v2"},{"prefix":"/a","profile":"aurora"}]' })[0]).to.match(/^COMPAT_PROFILES\[1\]\.prefix: .*twice/);
    expect(problemsOf({ COMPAT_PROFILES: '[not json' })[0]).to.match(/^COMPAT_PROFILES: not valid JSON/);
  });

  it('refuses legacy mounts that collide with built-in routes', () => {
    expect(problemsOf({ COMPAT_PROFILES: '/oidc=v2' })[0]).to.match(/^COMPAT_PROFILES: .*collides/);
  });

  describe('with NODE_ENV=production', () => {
    const production = {
      NODE_ENV: 'production',
      PUBLIC_URL: 'https://id.example.com',
      DATABASE_URL: 'postgres://idp@db/idp',
      REDIS_URL: 'redis://redis:6379',
      COOKIE_KEYS: 'q7Vd2LmXa9Rt4WcZp1Ks8NbY3Hf6Jg0E',
      KEY_ENCRYPTION_KEY: 'REiHLAsVDOmibcezGELUgccGVTxZxGg8Rpsh9yhSpMA=',
      METRICS_TOKEN: 'scrape-Tq84Lm2Vx9Rk',
    };

    it('starts with PostgreSQL, Redis and strong secrets', () => {
      const config = loadConfig(production);
      expect(config.env).to.equal('production');
      expect(config.database.migrateOnStart).to.equal(false);
      expect(config.keyEncryptionKey).to.have.length(32);
      expect(config.metricsToken).to.equal('scrape-Tq84Lm2Vx9Rk');
    });

    it('refuses a PUBLIC_URL that is unset, or plain http anywhere but localhost and 127.0.0.1', () => {
      expect(problemsOf({ ...production, PUBLIC_URL: '' })).to.deep.equal(['PUBLIC_URL: required in production (the https:// address clients use)']);
      expect(problemsOf({ ...production, PUBLIC_URL: 'http://id.example.com' })).to.deep.equal([
        'PUBLIC_URL: must be https:// in production (plain http only for localhost or 127.0.0.1)',
      ]);
      expect(problemsOf({ ...production, PUBLIC_URL: 'http://10.0.0.5:3000' })).to.have.length(1);
      for (const local of ['http://localhost:3000', 'http://127.0.0.1:8080', 'https://id.example.com:8443']) {
        expect(problemsOf({ ...production, PUBLIC_URL: local }), local).to.deep.equal([]);
      }
    });

    it('refuses cookie keys with fewer than 16 distinct characters, however long', () => {
      const message = 'COOKIE_KEYS: every key must be a random value of at least 32 characters, 16 or more of them distinct';
      expect(problemsOf({ ...production, COOKIE_KEYS: 'a'.repeat(32) })).to.deep.equal([message]);
      expect(problemsOf({ ...production, COOKIE_KEYS: `${production.COOKIE_KEYS},${'abcdefghijklmno'.repeat(4)}` })).to.deep.equal([message]);
      expect(problemsOf({ ...production, COOKIE_KEYS: `${production.COOKIE_KEYS},${'abcdefghijklmnop'.repeat(2)}` })).to.deep.equal([]);
    });

    it('refuses an ADMIN_PASSWORD the strength estimator scores below 3 of 4', function () {
      this.timeout(60_000); // each estimate is its own process (password-strength.ts)
      for (const weak of ['Password1', 'changeme', 'Summer2024!', 'admin@example.com1', 'qwertyuiop']) {
        const problems = problemsOf({ ...production, ADMIN_EMAIL: 'admin@example.com', ADMIN_PASSWORD: weak });
        expect(problems, weak).to.have.length(1);
        expect(problems[0], weak).to.match(/^ADMIN_PASSWORD: too easy to guess \(strength [0-2] of 4, at least 3 needed in production\)$/);
      }
      expect(problemsOf({ ...production, ADMIN_PASSWORD: 'correct horse battery staple' })).to.deep.equal([]);
      // Outside production the estimator is not asked.
      expect(problemsOf({ ADMIN_PASSWORD: 'Password1' })).to.deep.equal([]);
    });

    it('stops with one line naming ADMIN_PASSWORD when its strength cannot be estimated', function () {
      this.timeout(60_000);
      // The estimate is a child process (password-strength.ts): one whose heap cannot hold the dictionaries fails.
      const saved = process.env.NODE_OPTIONS;
      process.env.NODE_OPTIONS = '--max-old-space-size=8';
      try {
        const problems = problemsOf({ ...production, ADMIN_PASSWORD: 'correct horse battery staple' });
        expect(problems).to.have.length(1);
        // V8 words its out-of-memory line after the collector's last attempt ("Reached heap limit", "Ineffective mark-compacts").
        expect(problems[0]).to.match(/^ADMIN_PASSWORD: could not be checked \(the password strength estimate failed: FATAL ERROR: .+ JavaScript heap out of memory\)$/);
      } finally {
        if (saved === undefined) delete process.env.NODE_OPTIONS;
        else process.env.NODE_OPTIONS = saved;
      }
    });

    it('requires KEY_ENCRYPTION_KEY and METRICS_TOKEN', () => {
      expect(problemsOf({ ...production, KEY_ENCRYPTION_KEY: '', METRICS_TOKEN: '' })).to.deep.equal([
        'KEY_ENCRYPTION_KEY: required in production (32+ random bytes, base64 or hex, e.g. `openssl rand -base64 32`)',
        'METRICS_TOKEN: required in production (the bearer token that /metrics asks for)',
      ]);
      expect(problemsOf({ ...production, METRICS_TOKEN: 'secret' })).to.deep.equal(['METRICS_TOKEN: must be a random value of at least 16 characters']);
    });

    it('refuses the embedded database and store', () => {
      const problems = problemsOf({ ...production, DATABASE_URL: '', REDIS_URL: '' });
      expect(problems.some((p) => p.startsWith('DATABASE_URL:') && /embedded/.test(p))).to.equal(true);
      expect(problems.some((p) => p.startsWith('REDIS_URL:') && /in-process/.test(p))).to.equal(true);
    });

    it('refuses missing or default secrets', () => {
      expect(problemsOf({ ...production, COOKIE_KEYS: '' })).to.deep.equal([
        'COOKIE_KEYS: required in production (comma-separated random keys, 32+ characters each)',
      ]);
      expect(problemsOf({ ...production, COOKIE_KEYS: 'changeme' })[0]).to.match(/^COOKIE_KEYS:/);
      expect(problemsOf({ ...production, ADMIN_PASSWORD: 'changeme' })[0]).to.match(/^ADMIN_PASSWORD:/);
      // An HS256 mount's secret: any length outside production, 32+ bytes in it.
      const hs256 = '[{"prefix":"/api/v1/auth","profile":"aurora","token":{"signing":"HS256","secret_env":"OLD_SECRET_KEY"}}]';
      expect(loadConfig({ COMPAT_PROFILES: hs256, OLD_SECRET_KEY: 'short' }).compatProfiles[0]?.token).to.include({ secret: 'short' });
      expect(problemsOf({ ...production, COMPAT_PROFILES: hs256, OLD_SECRET_KEY: 'x'.repeat(31) })).to.deep.equal([
        'COMPAT_PROFILES[0].token.secret_env: OLD_SECRET_KEY must be at least 32 bytes in production',
      ]);
      expect(problemsOf({ ...production, COMPAT_PROFILES: hs256, OLD_SECRET_KEY: 'x'.repeat(32) })).to.deep.equal([]);
    });
  });
});
