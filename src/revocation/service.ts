// The one revocation path: every cause (owner delete, admin revoke, bulk, revoke all, expiry,
// exposure, collection delete) ends here. One statement revokes what is still live, so
// concurrent revocations never revoke a key twice; events go out after commit.
import type { ApiKey, Prisma, PrismaClient } from '../generated/prisma/client.js';
import type { RevocationReason } from '../generated/prisma/enums.js';
import type { KeyChange, KeyEvents } from '../keys/events.js';

type Db = PrismaClient | Prisma.TransactionClient;

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

  announce(keys: ApiKey[]): void {
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
