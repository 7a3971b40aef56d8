/**
 * A stored OIDC record's payload, encrypted (AES-256-GCM) under a key derived from the record's own id:
 * the payload holds the token itself (`jti`) and, for interactions, the SSO cookie and device code, so
 * reading the store must not yield them (CONTRACT §5). Whoever presents the id (the token, the cookie) can
 * open it; nobody else can, the server included, so nothing is left to keep secret. The key is another
 * hash of the id than the record's name (storage-keys.ts), so the name never gives the key away.
 */
import type { AdapterPayload } from 'oidc-provider';
import { openUnderToken, sealUnderToken } from '../services/token-sealed.ts';

export interface SealedPayload {
  sealed: string;
}

const purpose = (model: string): string => `oidc-seal:${model}`;

export function seal(model: string, id: string, payload: AdapterPayload): SealedPayload {
  return { sealed: sealUnderToken(purpose(model), id, payload) };
}

/** The payload, or undefined when the value is not a record sealed for this id and model. */
export function unseal(model: string, id: string, value: unknown): AdapterPayload | undefined {
  return openUnderToken<AdapterPayload>(purpose(model), id, (value as Partial<SealedPayload> | undefined)?.sealed);
}
