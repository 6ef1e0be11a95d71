// Rotation with overlap (SPEC §5), a mechanism of keys in general: a regenerated key may keep its
// previous secret working for a while (personal keys: overlapMinutes; SCIM keys will use it for
// keepPreviousForHours). One previous secret per key, on its row: previousHash until
// previousSecretExpiresAt. It shares everything else with the new secret (status, rate limit,
// quota, lastUsedAt), and disabling or revoking the key clears it.
import { wholeNumber } from '../domain/input.js';
import type { Prisma, PrismaClient } from '../generated/prisma/client.js';
import type { KeyChanged } from './events.js';

/** regenerateApiKey's overlapMinutes (SPEC §5); SCIM keys' keepPreviousForHours will be 0..168 hours. */
export const API_KEY_OVERLAP = { field: 'overlapMinutes', unit: 'minute', max: 1440 } as const;

const UNIT_MS = { minute: 60_000, hour: 3_600_000 } as const;

export interface OverlapRule {
  /** the argument, named in a BAD_USER_INPUT */
  field: string;
  unit: keyof typeof UNIT_MS;
  max: number;
}

/** When the previous secret stops: null for no overlap (0). Outside 0..max: BAD_USER_INPUT naming the field. */
export function overlapEnd(rule: OverlapRule, amount: number, now: Date): Date | null {
  wholeNumber(rule.field, amount, 0, rule.max);
  return amount === 0 ? null : new Date(now.getTime() + amount * UNIT_MS[rule.unit]);
}

/** The columns a regeneration writes: the new secret, and the old one kept (or not) for the overlap. */
export function rotatedSecret(
  oldHash: string,
  next: { hash: string; hint: string },
  previousUntil: Date | null,
): Pick<Prisma.ApiKeyUpdateInput, 'hash' | 'hint' | 'previousHash' | 'previousSecretExpiresAt'> {
  // Only one previous secret: regenerating during an overlap ends the older one.
  return { hash: next.hash, hint: next.hint, previousHash: previousUntil ? oldHash : null, previousSecretExpiresAt: previousUntil };
}

/** What disabling or revoking a key writes besides its status: the previous secret ends with it. */
export const NO_PREVIOUS_SECRET = { previousHash: null, previousSecretExpiresAt: null } as const;

/** The overlap shown on a key: null when none runs (none set, ended, or the key no longer enabled). */
export function runningOverlap(until: Date | null, effectiveStatus: string, now = Date.now()): Date | null {
  return until && until.getTime() > now && effectiveStatus === 'ENABLED' ? until : null;
}

/**
 * A 'regenerated' change heard from the database (its NOTIFY names the hashes, not the overlap):
 * the row is read again to learn whether the old hash still works, and until when. A row
 * regenerated again since then no longer keeps that hash: the event carries no overlap.
 */
export async function withOverlap(prisma: PrismaClient, event: KeyChanged): Promise<KeyChanged> {
  const row = await prisma.apiKey.findUnique({
    where: { id: event.keyId },
    select: { previousHash: true, previousSecretExpiresAt: true },
  });
  const kept = row?.previousHash === event.hash && row.previousSecretExpiresAt !== null;
  return { ...event, previousSecretExpiresAt: kept ? row.previousSecretExpiresAt : null };
}
