import type { ApiKeyStatus, RevocationReason } from '../generated/prisma/enums.js';

export interface KeyLifecycle {
  status: ApiKeyStatus;
  expiresAt: Date | null;
  revokedAt: Date | null;
  revocationReason: RevocationReason | null;
}

/**
 * What a key reads as now. A key past its expiresAt is REVOKED/EXPIRED at once, before any
 * background job persists it (SPEC §4 "Expiry").
 */
export function effectiveLifecycle<T extends KeyLifecycle>(key: T, now = Date.now()): KeyLifecycle {
  if (key.status !== 'REVOKED' && key.expiresAt && key.expiresAt.getTime() <= now) {
    return { status: 'REVOKED', expiresAt: key.expiresAt, revokedAt: key.expiresAt, revocationReason: 'EXPIRED' };
  }
  return key;
}
