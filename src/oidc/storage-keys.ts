/**
 * Store keys of the OIDC side. Keys of one account carry the same hash tag `{u:<id>}` as the session
 * service's, so a user's sessions and grant index share a Redis Cluster slot.
 *
 * No key name holds a token, code, cookie or uid (CONTRACT §5): a record is stored under the hash of its
 * id (its `ref`), so listing the keys yields nothing usable. The ids are random (128 bits and more), so
 * the hash cannot be reversed by guessing; the payload is sealed under another hash of the id (adapter.ts).
 */
import { hash } from 'node:crypto';

/** The name a record with this id is stored under (and the grant index and uid map refer to it by). */
export const refOf = (id: string): string => hash('sha256', `oidc-ref:${id}`, 'base64url');

export const recordKey = (model: string, ref: string): string => `oidc:${model}:${ref}`;
export const tokenKey = (model: string, id: string): string => recordKey(model, refOf(id));
export const grantIndexKey = (grantId: string): string => `oidc:grant-members:${refOf(grantId)}`;
export const accountGrantsKey = (accountId: string): string => `oidc:grants:{u:${accountId}}`;
export const sessionUidKey = (uid: string): string => `oidc:session-uid:${refOf(uid)}`;
export const userCodeKey = (userCode: string): string => `oidc:user-code:${refOf(userCode)}`;
/** Epoch seconds before which every access token of the grant counts as revoked. */
export const accessTokenCutoffKey = (grantId: string): string => `oidc:grant-at-cutoff:${refOf(grantId)}`;
/** The shared session (session service) an SSO session belongs to. */
export const sessionLinkKey = (uid: string): string => `oidc:session-link:${refOf(uid)}`;

/** A grant index member names the model too, so each model's revokeByGrantId deletes only its own. */
export const grantMember = (model: string, ref: string): string => `${model}:${ref}`;
/** When a token was last issued from a grant, and its client's name then (user-grants.ts). */
export const grantUsedKey = (grantId: string): string => `oidc:grant-used:${refOf(grantId)}`;
