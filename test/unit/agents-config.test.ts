import { expect } from 'chai';
import { loadConfig, ConfigError } from '../../src/config.ts';
import { hostAllowed } from '../../src/oidc/cimd-policy.ts';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

const production = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://idp@db/idp',
  REDIS_URL: 'redis://redis:6379',
  PUBLIC_URL: 'https://id.example.com',
  COOKIE_KEYS: 'q7Vd2LmXa9Rt4WcZp1Ks8NbY3Hf6Jg0E',
  KEY_ENCRYPTION_KEY: 'REiHLAsVDOmibcezGELUgccGVTxZxGg8Rpsh9yhSpMA=',
  METRICS_TOKEN: 'scrape-Tq84Lm2Vx9Rk',
};

describe('CONTRACT §11 settings (CLIENT_REGISTRATION, CLIENT_ID_METADATA_DOCUMENTS, REFRESH_REUSE_INTERVAL)', () => {
  it('defaults: registration off, metadata documents off, no refresh reuse interval', () => {
    const config = loadConfig({});
    expect(config.agents).to.deep.equal({ clientRegistration: 'off', metadataDocuments: { mode: 'off', hostSuffixes: [], loopback: false } });
    expect(config.refreshReuseInterval).to.equal(0);
  });

  it('reads the host suffix list, any, and loopback; refuses bad values naming the key', () => {
    expect(loadConfig({ CLIENT_ID_METADATA_DOCUMENTS: 'claude.ai, .openai.com,loopback' }).agents.metadataDocuments).to.deep.equal({
      mode: 'list', hostSuffixes: ['claude.ai', 'openai.com'], loopback: true,
    });
    expect(loadConfig({ CLIENT_ID_METADATA_DOCUMENTS: 'any' }).agents.metadataDocuments.mode).to.equal('any');
    expect(problemsOf({ CLIENT_ID_METADATA_DOCUMENTS: 'https://claude.ai' })[0]).to.match(/^CLIENT_ID_METADATA_DOCUMENTS:/);
    expect(problemsOf({ CLIENT_REGISTRATION: 'sometimes' })[0]).to.match(/^CLIENT_REGISTRATION:/);
    expect(problemsOf({ REFRESH_REUSE_INTERVAL: '-1' })[0]).to.match(/^REFRESH_REUSE_INTERVAL:/);
  });

  it('production refuses loopback metadata documents', () => {
    expect(problemsOf({ ...production, CLIENT_ID_METADATA_DOCUMENTS: 'claude.ai' })).to.deep.equal([]);
    expect(problemsOf({ ...production, CLIENT_ID_METADATA_DOCUMENTS: 'claude.ai,loopback' })).to.deep.equal([
      'CLIENT_ID_METADATA_DOCUMENTS: loopback (http documents on 127.0.0.1) is for tests and not allowed in production',
    ]);
  });

  it('matches a host suffix on label boundaries only', () => {
    const settings = { mode: 'list' as const, hostSuffixes: ['claude.ai'], loopback: false };
    expect(hostAllowed(settings, 'claude.ai')).to.equal(true);
    expect(hostAllowed(settings, 'mcp.claude.ai')).to.equal(true);
    expect(hostAllowed(settings, 'evilclaude.ai')).to.equal(false);
    expect(hostAllowed(settings, 'claude.ai.evil.example')).to.equal(false);
    expect(hostAllowed({ mode: 'off', hostSuffixes: [], loopback: false }, 'claude.ai')).to.equal(false);
    expect(hostAllowed({ mode: 'any', hostSuffixes: [], loopback: false }, 'anything.example')).to.equal(true);
  });
});
