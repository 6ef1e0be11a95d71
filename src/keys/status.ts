import type { ApiKeyStatus, RevocationReason } from '../generated/prisma/enums.js';

export interface KeyStatusFields {
  status: ApiKeyStatus;
  expiresAt: Date | null;
  revokedAt: Date | null;
  revocationReason: RevocationReason | null;
}

/**
 * What a key reads as now. A key past its expiresAt is REVOKED/EXPIRED at once, before any
 * background job persists it (SPEC §4 "Expiry").
 */
export function effectiveLifecycle<T extends KeyStatusFields>(key: T, now = Date.now()): KeyStatusFields {
  if (key.status !== 'REVOKED' && key.expiresAt && key.expiresAt.getTime() <= now) {
    return { status: 'REVOKED', expiresAt: key.expiresAt, revokedAt: key.expiresAt, revocationReason: 'EXPIRED' };
  }
  return key;
}
