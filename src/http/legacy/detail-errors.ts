import { MalformedJsonError } from '../../errors.ts';
import type { ErrorRenderer } from '../context.ts';
import { MfaRequiredError } from '../../services/mfa/errors.ts';

/**
 * FastAPI's error body (malformed JSON included: a 422 `json_invalid`), `{"detail": "…"}` (or the list of issues for a 422), with a profile's own wording
 * for some codes (the v2 service said "Incorrect email or password").
 */
export function detailErrors(messages: Partial<Record<string, string>> = {}): ErrorRenderer {
  return (error) => {
    // FastAPI answers a body that is not JSON with a 422 `json_invalid` issue, not a 400.
    if (error instanceof MalformedJsonError) return { status: 422, body: { detail: [error.issue] } };
    return {
      status: error.status,
      body: {
        detail: error.status === 422 && Array.isArray(error.detail) ? error.detail : (messages[error.code] ?? error.message),
        // The challenge of a two-step login (CONTRACT §9).
        ...(error instanceof MfaRequiredError ? { mfa_required: true, mfa_token: error.mfaToken, methods: error.methods } : {}),
      },
    };
  };
}
