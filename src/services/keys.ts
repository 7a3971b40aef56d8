/**
 * The one signing key set, kept in the database: oidc-provider gets it as `jwks`, the legacy token
 * service signs with the same current key, and everything verifies against the one published JWKS.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK } from 'jose';
import type { CryptoKey, JWK } from 'jose';
import type { Transaction } from 'sequelize';
import type { Models } from '../db/models/index.ts';
import { SIGNING_ALGS } from '../db/models/signing-key.ts';
import type { SigningAlg } from '../db/models/signing-key.ts';
import { openSigningKey, sealSigningKeys, signingKeyContext } from '../db/signing-key-sealing.ts';
import type { SecretBox } from './secret-box.ts';

export type { SigningAlg };

export interface SigningKeyHandle {
  kid: string;
  alg: SigningAlg;
  key: CryptoKey;
}

export interface KeySet {
  /** The newest key of each algorithm: the one that signs. */
  signing: Record<SigningAlg, SigningKeyHandle>;
  /** Private JWKs for oidc-provider's `jwks` option; the current ES256 key first. */
  jwks: { keys: JWK[] };
  /** What /jwks publishes: the public halves, same order. */
  publicJwks: { keys: JWK[] };
}

export interface KeyService {
  /**
   * Creates one key per algorithm that has none (so an empty table gets ES256 and RS256) and, with a secret
   * box, seals the keys still stored in plaintext. Idempotent.
   */
  ensureKeys(): Promise<void>;
  /** Reads the key set; marks keys replaced since the last load as superseded. */
  load(): Promise<KeySet>;
  /** Adds a new key ('both': one per algorithm); it signs from the next load(). Returns the new kids. */
  rotate(alg?: SigningAlg | 'both'): Promise<string[]>;
}

export interface KeyServiceOptions {
  models: Pick<Models, 'SigningKey'>;
  /** Longest lifetime of any JWT a key signs: an old key stays published this long after it is replaced. */
  maxTokenTtlSeconds: number;
  /** KEY_ENCRYPTION_KEY's box: private keys are stored sealed with it, and read back through it. */
  secretBox?: SecretBox;
  now?: () => Date;
}

export interface StoredKey {
  kid: string;
  alg: SigningAlg;
  createdAt: Date;
  supersededAt: Date | null;
}

export interface KeyPlan<K extends StoredKey> {
  current: Record<SigningAlg, K>;
  /** Keys to publish, current ES256 first, then current RS256, then older keys newest first. */
  published: K[];
  /** Replaced keys not yet marked: their superseded_at becomes `now`. */
  toSupersede: K[];
}

// Arbitrary constant: the PostgreSQL advisory lock that serialises ensureKeys() across processes.
const ENSURE_KEYS_LOCK = 720_391_846;

function newestFirst(a: StoredKey, b: StoredKey): number {
  return b.createdAt.getTime() - a.createdAt.getTime() || (a.kid < b.kid ? 1 : a.kid > b.kid ? -1 : 0);
}

/** Decides which key signs and which are still published; pure, so the rules are unit-tested alone. */
export function planKeySet<K extends StoredKey>(keys: readonly K[], now: Date, maxTokenTtlSeconds: number): KeyPlan<K> {
  const sorted = [...keys].sort(newestFirst);
  const current = {} as Record<SigningAlg, K>;
  for (const alg of SIGNING_ALGS) {
    const newest = sorted.find((key) => key.alg === alg);
    if (!newest) throw new Error(`no ${alg} signing key in the database (ensureKeys() creates them)`);
    current[alg] = newest;
  }
  const currentKeys = SIGNING_ALGS.map((alg) => current[alg]);
  const older = sorted.filter((key) => !currentKeys.includes(key));
  const toSupersede = older.filter((key) => key.supersededAt === null);
  // A key still signs tokens until every process has loaded its successor; counting from the first
  // load after the rotation, its tokens have all expired once maxTokenTtlSeconds have passed.
  const stillValid = older.filter((key) => {
    const supersededAt = key.supersededAt ?? now;
    return supersededAt.getTime() + maxTokenTtlSeconds * 1000 > now.getTime();
  });
  return { current, published: [...currentKeys, ...stillValid], toSupersede };
}

const PUBLIC_MEMBERS: Record<string, readonly string[]> = {
  EC: ['kty', 'crv', 'x', 'y'],
  RSA: ['kty', 'n', 'e'],
};

export function publicJwk(jwk: JWK): JWK {
  const members = PUBLIC_MEMBERS[jwk.kty ?? ''];
  if (!members) throw new Error(`unsupported key type ${String(jwk.kty)}`);
  const out: Record<string, unknown> = {};
  for (const name of [...members, 'kid', 'alg', 'use']) {
    const value = (jwk as Record<string, unknown>)[name];
    if (value !== undefined) out[name] = value;
  }
  return out as JWK;
}

async function generateJwk(alg: SigningAlg): Promise<JWK & { kid: string }> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const jwk = await exportJWK(privateKey);
  // RFC 7638 thumbprint: a stable, collision-free kid derived from the key itself.
  const kid = await calculateJwkThumbprint(publicJwk(jwk), 'sha256');
  return { ...jwk, kid, alg, use: 'sig' };
}

export function createKeyService(options: KeyServiceOptions): KeyService {
  const { SigningKey } = options.models;
  const now = options.now ?? (() => new Date());
  const { secretBox } = options;
  const readJwk = (row: { kid: string; privateJwk: string }): JWK => JSON.parse(openSigningKey(row, secretBox)) as JWK;

  async function addKey(alg: SigningAlg, transaction?: Transaction): Promise<string> {
    const jwk = await generateJwk(alg);
    const newest = await SigningKey.findOne({ where: { alg }, order: [['createdAt', 'DESC']], transaction });
    // Strictly after the newest key of its algorithm, so "newest signs" never depends on a tie.
    const at = now();
    const createdAt = newest && newest.createdAt.getTime() >= at.getTime() ? new Date(newest.createdAt.getTime() + 1) : at;
    const json = JSON.stringify(jwk);
    const privateJwk = secretBox ? secretBox.seal(json, signingKeyContext(jwk.kid)) : json;
    await SigningKey.create({ kid: jwk.kid, alg, privateJwk, createdAt, supersededAt: null }, { transaction });
    return jwk.kid;
  }

  return {
    async ensureKeys() {
      const sequelize = SigningKey.sequelize;
      if (!sequelize) throw new Error('SigningKey model is not initialised');
      // Several processes may start together on an empty database: one transaction (SQLite:
      // IMMEDIATE, PostgreSQL: an advisory lock) lets only one of them create the first keys.
      await sequelize.transaction(async (transaction) => {
        if (sequelize.getDialect() === 'postgres') {
          await sequelize.query('SELECT pg_advisory_xact_lock(:key)', { replacements: { key: ENSURE_KEYS_LOCK }, transaction });
        }
        for (const alg of SIGNING_ALGS) {
          const existing = await SigningKey.count({ where: { alg }, transaction });
          if (existing === 0) await addKey(alg, transaction);
        }
        if (secretBox) await sealSigningKeys(sequelize, secretBox, transaction);
      });
    },

    async load() {
      // From the primary: a key created a moment ago (first start, rotation) may not be on a read replica yet.
      const rows = await SigningKey.findAll({ useMaster: true });
      const at = now();
      const plan = planKeySet(rows, at, options.maxTokenTtlSeconds);
      if (plan.toSupersede.length > 0) {
        await SigningKey.update(
          { supersededAt: at },
          { where: { kid: plan.toSupersede.map((key) => key.kid), supersededAt: null } },
        );
      }
      const jwks = plan.published.map(readJwk);
      const signing = {} as Record<SigningAlg, SigningKeyHandle>;
      for (const alg of SIGNING_ALGS) {
        const row = plan.current[alg];
        const key = await importJWK(readJwk(row), alg);
        signing[alg] = { kid: row.kid, alg, key: key as CryptoKey };
      }
      return { signing, jwks: { keys: jwks }, publicJwks: { keys: jwks.map(publicJwk) } };
    },

    async rotate(alg = 'both') {
      const algs = alg === 'both' ? SIGNING_ALGS : [alg];
      const kids: string[] = [];
      for (const one of algs) kids.push(await addKey(one));
      return kids;
    },
  };
}
