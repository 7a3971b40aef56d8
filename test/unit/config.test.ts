import { expect } from 'chai';
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
    expect(config.compatProfiles).to.deep.equal([
      { prefix: '/auth', profile: 'auth-service' },
      { prefix: '/api/v1/auth', profile: 'aurora' },
      { prefix: '/api/v2/auth', profile: 'v2' },
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
    expect(config.compatProfiles).to.deep.equal([{ prefix: '/api/v1/auth', profile: 'envelope' }]);
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

  it('refuses legacy mounts that collide with built-in routes', () => {
    expect(problemsOf({ COMPAT_PROFILES: '/oidc=v2' })[0]).to.match(/^COMPAT_PROFILES: .*collides/);
  });

  describe('with NODE_ENV=production', () => {
    const production = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://idp@db/idp',
      REDIS_URL: 'redis://redis:6379',
      COOKIE_KEYS: 'k'.repeat(20) + 'x'.repeat(20),
    };

    it('starts with PostgreSQL, Redis and strong secrets', () => {
      const config = loadConfig(production);
      expect(config.env).to.equal('production');
      expect(config.database.migrateOnStart).to.equal(false);
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
    });
  });
});
