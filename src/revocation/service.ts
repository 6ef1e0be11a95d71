// The one revocation path: every cause (owner delete, admin revoke, bulk, revoke all, expiry,
// exposure, collection delete) ends here. One statement revokes what is still live, so
// concurrent revocations never revoke a key twice; events go out after commit.
import type { ApiKey, Prisma, PrismaClient } from '../generated/prisma/client.js';
import type { RevocationReason } from '../generated/prisma/enums.js';
import type { KeyChange, KeyEvents } from '../keys/events.js';

type Db = PrismaClient | Prisma.TransactionClient;

/** What an announcement needs of a revoked key. */
export type RevokedKey = Pick<ApiKey, 'id' | 'teamId' | 'hash' | 'expiresAt' | 'revocationReason'>;

export interface RevokeOptions {
  reason: RevocationReason;
  actorId: string | null;
  at?: Date;
}

const CHANGE_BY_REASON: Record<RevocationReason, KeyChange> = {
  REVOKED_BY_OWNER: 'deleted',
  REVOKED_BY_ADMIN: 'revoked',
  EXPIRED: 'expired',
  EXPOSED: 'revoked',
};

export class RevocationService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly keyEvents: KeyEvents,
  ) {}

  /**
   * Revokes the keys matching `where` that are still live (not revoked, not past expiry: those
   * read as EXPIRED already and the expiry job persists them),
   * inside `db` when a caller has a transaction open. Returns the keys this call revoked;
   * call `announce` with them once the transaction has committed.
   */
  async revokeWhere(where: Prisma.ApiKeyWhereInput, options: RevokeOptions, db: Db = this.prisma): Promise<ApiKey[]> {
    const at = options.at ?? new Date();
    return db.apiKey.updateManyAndReturn({
      where: {
        AND: [where, { status: { not: 'REVOKED' } }, { OR: [{ expiresAt: null }, { expiresAt: { gt: at } }] }],
      },
      data: {
        status: 'REVOKED',
        revocationReason: options.reason,
        revokedAt: at,
        revokedById: options.actorId,
      },
    });
  }

  /**
   * Writes down up to `batch` expiries reached by `now` (REVOKED, EXPIRED, revokedAt = expiresAt).
   * Rows are claimed with FOR UPDATE SKIP LOCKED, so instances running this at once never write
   * a key twice. Announce the result after commit, like any revocation.
   */
  async persistExpired(now: Date, batch: number, db: Db = this.prisma): Promise<RevokedKey[]> {
    return db.$queryRawUnsafe<RevokedKey[]>(
      `UPDATE "ApiKey" SET "status" = 'REVOKED', "revocationReason" = 'EXPIRED', "revokedAt" = "expiresAt", "updatedAt" = $1::timestamptz
        WHERE "id" IN (SELECT "id" FROM "ApiKey"
                        WHERE "status" <> 'REVOKED' AND "expiresAt" <= $1::timestamptz
                        ORDER BY "expiresAt" LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING "id", "teamId", "hash", "expiresAt", "revocationReason"`,
      now,
      batch,
    );
  }

  announce(keys: RevokedKey[]): void {
    for (const key of keys) {
      this.keyEvents.changed({
        keyId: key.id,
        teamId: key.teamId,
        hash: key.hash,
        change: CHANGE_BY_REASON[key.revocationReason ?? 'REVOKED_BY_ADMIN'],
        expiresAt: key.expiresAt,
      });
    }
  }

  /** Revoke and announce in one step, for callers without a transaction of their own. */
  async revoke(where: Prisma.ApiKeyWhereInput, options: RevokeOptions): Promise<ApiKey[]> {
    const revoked = await this.prisma.$transaction((tx) => this.revokeWhere(where, options, tx));
    this.announce(revoked);
    return revoked;
  }
}
