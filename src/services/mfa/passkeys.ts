/**
 * Passkeys (CONTRACT §9): WebAuthn discoverable credentials with user verification required, several per
 * user, each named. @simplewebauthn/server does the ceremony checks (challenge, origin, RP ID, signature,
 * user verification); this file keeps the challenges in the store (five minutes, used once) and the
 * credentials in the database, their public keys sealed like every factor secret.
 */
import { randomUUID } from 'node:crypto';
import type * as SimpleWebAuthn from '@simplewebauthn/server';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
  verifyAuthenticationResponse,
} from '@simplewebauthn/server';
import type { Models } from '../../db/models/index.ts';
import type { Store } from '../../store/store.ts';
import type { AuditService } from '../audit.ts';
import type { RequestContext } from '../request-context.ts';
import { AppError } from '../../errors.ts';
import { InvalidPasskeyNameError } from './errors.ts';
import { factorContext, type SecretSealer } from './secrets.ts';

export const PASSKEY_CHALLENGE_TTL_SECONDS = 300;

// Loaded at the first passkey ceremony: its ASN.1 and COSE libraries are ~5 MB of heap that every other
// request would otherwise carry through each garbage collection (bench/README.md).
let webauthn: Promise<typeof SimpleWebAuthn> | undefined;
const simpleWebAuthn = () => (webauthn ??= import('@simplewebauthn/server'));
/** A passkey's name (CONTRACT §10: the user names and renames them): 1–64 characters once trimmed. */
export const PASSKEY_NAME_MAX = 64;
/** Control, format (bidi controls, zero-width) and line/paragraph separators: a name is one plain line. */
const NAME_FORBIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
const NAME_STRIP = new RegExp(NAME_FORBIDDEN.source, 'gu');

/** The name as stored (trimmed, NFC), or InvalidPasskeyNameError (422) saying why it is refused. */
export function passkeyName(raw: string): string {
  const name = raw.normalize('NFC').trim();
  if (NAME_FORBIDDEN.test(name)) throw new InvalidPasskeyNameError('The name must not contain control characters');
  const length = [...name].length;
  if (length < 1) throw new InvalidPasskeyNameError('The name must not be empty');
  if (length > PASSKEY_NAME_MAX) throw new InvalidPasskeyNameError(`The name must be at most ${PASSKEY_NAME_MAX} characters`);
  return name;
}

/** A passkey ceremony that did not verify (wrong origin, unknown credential, no user verification, stale challenge…). */
export class PasskeyRejectedError extends AppError {
  constructor() {
    super(400, 'AUTH_PASSKEY_REJECTED', 'The passkey could not be verified');
  }
}

export interface PasskeyServiceOptions {
  models: Pick<Models, 'Passkey'>;
  store: Store;
  secrets: SecretSealer;
  audit: Pick<AuditService, 'record'>;
  /** PUBLIC_URL: its origin is the only one accepted, its host name is the relying party id. */
  publicUrl: string;
  rpName: string;
}

interface Challenge {
  challenge: string;
  userId?: string;
}

const SAFE_ID = /^[A-Za-z0-9_-]{1,64}$/;
type Transports = Parameters<typeof verifyAuthenticationResponse>[0]['credential']['transports'];

export function createPasskeyService(options: PasskeyServiceOptions) {
  const { Passkey } = options.models;
  const { store, secrets, audit } = options;
  const origin = new URL(options.publicUrl).origin;
  const rpID = new URL(options.publicUrl).hostname;
  const auditFrom = (ctx: RequestContext) => ({ ip: ctx.ip, userAgent: ctx.userAgent, clientId: ctx.clientId });

  async function saveChallenge(kind: 'reg' | 'auth', value: Challenge): Promise<string> {
    const id = randomUUID();
    await store.set(`passkey-${kind}:${id}`, value, PASSKEY_CHALLENGE_TTL_SECONDS);
    return id;
  }

  /** The challenge, used up: of two requests presenting it, one gets it. */
  async function takeChallenge(kind: 'reg' | 'auth', id: unknown): Promise<Challenge | undefined> {
    if (typeof id !== 'string' || !SAFE_ID.test(id)) return undefined;
    const key = `passkey-${kind}:${id}`;
    const value = await store.get<Challenge>(key);
    if (!value) return undefined;
    if (!(await store.compareAndSet(key, value, { challenge: '' }, 1))) return undefined;
    await store.delete(key);
    return value.challenge ? value : undefined;
  }

  return {
    rpID,

    /** Options for `navigator.credentials.create` (a discoverable credential, user verification required). */
    async registrationOptions(user: { id: string; email: string; displayName?: string | null }): Promise<{ challengeId: string; options: PublicKeyCredentialCreationOptionsJSON }> {
      const existing = await Passkey.findAll({ where: { userId: user.id }, attributes: ['credentialId', 'transports'], useMaster: true });
      const creation = await (await simpleWebAuthn()).generateRegistrationOptions({
        rpName: options.rpName,
        rpID,
        userName: user.email,
        userID: new TextEncoder().encode(user.id),
        userDisplayName: user.displayName ?? user.email,
        attestationType: 'none',
        excludeCredentials: existing.map((passkey) => ({ id: passkey.credentialId, transports: passkey.transports ?? undefined })),
        authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
      });
      return { challengeId: await saveChallenge('reg', { challenge: creation.challenge, userId: user.id }), options: creation };
    },

    /** Verifies the browser's answer and stores the credential under `name`. */
    async register(userId: string, challengeId: unknown, response: unknown, name: string, ctx: RequestContext): Promise<{ id: string; name: string }> {
      const challenge = await takeChallenge('reg', challengeId);
      const fail = async (reason: string): Promise<never> => {
        await audit.record({ type: 'mfa_enrol', outcome: 'failure', userId, ...auditFrom(ctx), detail: { method: 'passkey', reason, door: ctx.door } });
        throw new PasskeyRejectedError();
      };
      if (!challenge || challenge.userId !== userId) return fail('challenge');
      let verified;
      try {
        verified = await (await simpleWebAuthn()).verifyRegistrationResponse({
          response: response as RegistrationResponseJSON,
          expectedChallenge: challenge.challenge,
          expectedOrigin: origin,
          expectedRPID: rpID,
          requireUserVerification: true,
        });
      } catch {
        return fail('invalid_response');
      }
      if (!verified.verified) return fail('not_verified');
      const { credential } = verified.registrationInfo;
      // Lenient here (the ceremony is done): what a rename would refuse is dropped or cut, never an error.
      const label = [...name.normalize('NFC').replace(NAME_STRIP, '').trim()].slice(0, PASSKEY_NAME_MAX).join('').trim() || 'Passkey';
      const row = await Passkey.create({
        userId,
        name: label,
        credentialId: credential.id,
        publicKeySealed: secrets.seal(Buffer.from(credential.publicKey).toString('base64url'), factorContext.passkey(credential.id)),
        signCount: credential.counter,
        transports: credential.transports ?? null,
      });
      await audit.record({ type: 'mfa_enrol', outcome: 'success', userId, ...auditFrom(ctx), detail: { method: 'passkey', passkey_id: row.id, door: ctx.door } });
      return { id: row.id, name: row.name };
    },

    /** Options for `navigator.credentials.get` with no allow-list: the authenticator offers its discoverable credentials. */
    async authenticationOptions(): Promise<{ challengeId: string; options: PublicKeyCredentialRequestOptionsJSON }> {
      const request = await (await simpleWebAuthn()).generateAuthenticationOptions({ rpID, userVerification: 'required', allowCredentials: [] });
      return { challengeId: await saveChallenge('auth', { challenge: request.challenge }), options: request };
    },

    /** Verifies a passkey sign-in; returns the user it belongs to. */
    async authenticate(challengeId: unknown, response: unknown, ctx: RequestContext): Promise<{ userId: string }> {
      const challenge = await takeChallenge('auth', challengeId);
      const answer = response as Partial<AuthenticationResponseJSON> | null;
      const credentialId = typeof answer?.id === 'string' && answer.id.length <= 1400 ? answer.id : undefined;
      const passkey = credentialId ? await Passkey.findOne({ where: { credentialId }, useMaster: true }) : null;
      const fail = async (reason: string): Promise<never> => {
        await audit.record({ type: 'mfa_use', outcome: 'failure', userId: passkey?.userId ?? null, ...auditFrom(ctx), detail: { method: 'passkey', reason, door: ctx.door } });
        throw new PasskeyRejectedError();
      };
      if (!challenge) return fail('challenge');
      if (!passkey) return fail('unknown_credential');
      let verified;
      try {
        verified = await (await simpleWebAuthn()).verifyAuthenticationResponse({
          response: answer as AuthenticationResponseJSON,
          expectedChallenge: challenge.challenge,
          expectedOrigin: origin,
          expectedRPID: rpID,
          requireUserVerification: true,
          credential: {
            id: passkey.credentialId,
            publicKey: new Uint8Array(Buffer.from(secrets.open(passkey.publicKeySealed, factorContext.passkey(passkey.credentialId)), 'base64url')),
            counter: passkey.signCount,
            transports: (passkey.transports ?? undefined) as Transports,
          },
        });
      } catch {
        return fail('invalid_response');
      }
      if (!verified.verified) return fail('not_verified');
      await passkey.update({ signCount: verified.authenticationInfo.newCounter, lastUsedAt: new Date() });
      await audit.record({ type: 'mfa_use', outcome: 'success', userId: passkey.userId, ...auditFrom(ctx), detail: { method: 'passkey', passkey_id: passkey.id, door: ctx.door } });
      return { userId: passkey.userId };
    },
  };
}

export type PasskeyService = ReturnType<typeof createPasskeyService>;
