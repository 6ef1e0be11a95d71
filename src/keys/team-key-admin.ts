// What an ENTERPRISE admin does to the team's personal keys at once (the admin dashboard):
// revoke a selection, all or nothing, or every live key but the caller's own. Revocations go
// through the one revocation service, announced once committed.
import { type AuditActor, actorOfPrincipal } from '../audit/actor.js';
import type { Principal } from '../auth/principal.js';
import { codedError } from '../domain/errors.js';
import { boundedList } from '../domain/input.js';
import type { ApiKey } from '../generated/prisma/client.js';
import type { RevocationService } from '../revocation/service.js';

/** Ids per revokeApiKeys call (SPEC §5). */
export const MAX_BULK = 10_000;

export class TeamKeyAdmin {
  constructor(private readonly revocation: RevocationService) {}

  /** Revokes these personal keys of the team (REVOKED_BY_ADMIN); one unknown id fails them all (NOT_FOUND). */
  async revokeSelected(p: Principal, ids: readonly string[], actor: AuditActor = actorOfPrincipal(p, {})): Promise<ApiKey[]> {
    // Bounded before any work on the list (a 2 MB body holds ~100,000 ids).
    const wanted = [...new Set(boundedList('ids', ids, MAX_BULK, 'maxIds'))];
    return this.revocation.transaction(async (tx, revoke) => {
      // One array parameter, not one per id (see RevocationService.revokeIds).
      const found = await tx.$queryRawUnsafe<{ id: string }[]>(
        `SELECT "id" FROM "ApiKey" WHERE "id" = ANY($1::text[]) AND "teamId" = $2 AND "kind" = 'PERSONAL'`,
        wanted,
        p.teamId,
      );
      if (found.length !== wanted.length) {
        const known = new Set(found.map((k) => k.id));
        const missing = wanted.filter((id) => !known.has(id));
        // Named in the message up to 20, in extensions up to 1,000 (the list may hold 10,000).
        const named = missing.slice(0, 20).join(', ') + (missing.length > 20 ? `, and ${missing.length - 20} more` : '');
        throw codedError('NOT_FOUND', `API keys not found: ${named}`, { ids: missing.slice(0, 1_000), missingCount: missing.length });
      }
      return revoke.ids(wanted, { reason: 'REVOKED_BY_ADMIN', actorId: p.userId, actor });
    });
  }

  /** Revokes every ENABLED or DISABLED personal key of the team except the one making the request. */
  revokeAll(p: Principal, actor: AuditActor = actorOfPrincipal(p, {})): Promise<ApiKey[]> {
    return this.revocation.revoke(
      { teamId: p.teamId, kind: 'PERSONAL', id: { not: p.keyId } },
      { reason: 'REVOKED_BY_ADMIN', actorId: p.userId, actor },
    );
  }
}
