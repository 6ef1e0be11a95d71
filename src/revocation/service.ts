// The one revocation path: every cause (owner delete, admin revoke, bulk, revoke all, expiry,
// exposure, collection delete) ends here. One statement revokes what is still live, so
// concurrent revocations never revoke a key twice; the owners' notifications and emails are
// written in the same transaction; each revoked key's KeyChanged (keys/events.ts: it stops
// working, its sockets close, apiKeyRevoked) is published after commit. Callers never announce: every
// entry point (`revoke`, `persistExpired`, `transaction`) runs the transaction and announces what
// it revoked once it has committed, so a revocation without its events cannot be written.
import type { AuditAction, AuditTargetType } from '../audit/actions.js';
import { type AuditActor, actorOfUser, SYSTEM_ACTOR } from '../audit/actor.js';
import { recordAudit } from '../audit/record.js';
import type { ApiKey, Prisma, PrismaClient } from '../generated/prisma/client.js';
import type { RevocationReason } from '../generated/prisma/enums.js';
import { CHANGE_BY_REASON, type KeyChanges, type KeyRow, keyChanged } from '../keys/events.js';
import { displayHint } from '../keys/format.js';
import { NO_PREVIOUS_SECRET } from '../keys/rotation.js';
import { type RevokedKey, type WrittenNotification, writeRevocationNotices } from '../notifications/revocation-notices.js';
import type { Tracing } from '../observability/tracing.js';
import type { KeyplanePubSub } from '../realtime/pubsub.js';

export interface RevokeOptions {
  reason: RevocationReason;
  actorId: string | null;
  /**
   * Who the audit events name (a request's actor; SYSTEM for jobs, SCANNER for intakes). Absent:
   * the member `actorId` without a key or address, or SYSTEM (scripts and tests).
   */
  actor?: AuditActor;
  at?: Date;
}

/** A revoked key: what its notices and its KeyChanged are made of. */
type Revoked = RevokedKey & KeyRow;

const REVOKED_ACTION: Record<RevokedKey['kind'], { action: AuditAction; targetType: AuditTargetType }> = {
  PERSONAL: { action: 'api_key.revoked', targetType: 'api_key' },
  COLLECTION_ACCESS: { action: 'access_key.revoked', targetType: 'access_key' },
  SCIM: { action: 'scim_key.revoked', targetType: 'scim_key' },
};

const actorOf = (options: RevokeOptions): AuditActor =>
  options.actor ?? (options.actorId ? actorOfUser(options.actorId, {}) : SYSTEM_ACTOR);

/** What one revocation statement changed and wrote, to announce once committed. */
interface Revocation<K extends Revoked = ApiKey> {
  keys: K[];
  notifications: WrittenNotification[];
  emailIds: string[];
}

/**
 * Revocations inside a caller's transaction (`RevocationService.transaction`): each revokes what
 * is still live and returns those keys; all are announced once the transaction has committed
 * (nothing if it rolls back). Valid only while its transaction runs.
 */
export interface Revoker {
  /** the keys matching `where` */
  where(where: Prisma.ApiKeyWhereInput, options: RevokeOptions): Promise<ApiKey[]>;
  /** the keys of a list of ids (bulk revocations take up to 10,000) */
  ids(ids: string[], options: RevokeOptions): Promise<ApiKey[]>;
}

/** Told about outbox emails once their transaction has committed (to send or to log them). */
export interface OutboxListener {
  queued(emailIds: string[]): void;
}

export class RevocationService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly keyChanges: KeyChanges,
    private readonly pubsub: KeyplanePubSub,
    private readonly outbox: OutboxListener,
    private readonly tracing?: Tracing,
  ) {}

  /**
   * Runs `work` in a transaction of its own, with a `Revoker` bound to it; what it revoked is
   * announced after commit (before this resolves), nothing when it throws.
   */
  transaction<T>(work: (tx: Prisma.TransactionClient, revoke: Revoker) => Promise<T>): Promise<T> {
    const { tracing } = this;
    if (!tracing) return this.revokeInTransaction(work);
    // Traced: a span around it, and its trace context in the transaction (SET LOCAL), where the
    // key trigger puts it in the change's NOTIFY: the other instances' delivery joins this trace.
    return tracing.span('keyplane.revocation', async (span) => {
      const done: Revocation[] = [];
      const result = await this.revokeInTransaction(async (tx, revoke) => {
        await tx.$queryRaw`SELECT set_config('keyplane.traceparent', ${tracing.traceparent() ?? ''}, true)`;
        return work(tx, revoke);
      }, done);
      const keys = done.flatMap((r) => r.keys);
      const [only] = keys.length === 1 ? keys : [];
      span.setAttributes({
        'keyplane.revoked_keys': keys.length,
        ...(only ? { 'keyplane.key.id': only.id, 'keyplane.revocation.reason': only.revocationReason ?? '' } : {}),
      });
      return result;
    });
  }

  private async revokeInTransaction<T>(
    work: (tx: Prisma.TransactionClient, revoke: Revoker) => Promise<T>,
    done: Revocation[] = [],
  ): Promise<T> {
    let open = true;
    const record = async (revocation: Promise<Revocation>) => {
      if (!open) throw new Error('a Revoker was used after its transaction ended');
      const r = await revocation;
      done.push(r);
      return r.keys;
    };
    const result = await this.prisma
      .$transaction((tx) =>
        work(tx, {
          where: (where, options) => record(this.revokeWhere(where, options, tx)),
          ids: (ids, options) => record(this.revokeIds(ids, options, tx)),
        }),
      )
      .finally(() => {
        open = false;
      });
    for (const revocation of done) this.announce(revocation);
    return result;
  }

  /**
   * Revokes the keys matching `where` that are still live (not revoked, not past expiry: those
   * read as EXPIRED already and the expiry job persists them), inside the transaction `db` (the
   * notices need one). Announced by the caller of this (`transaction`, `revoke`) after commit.
   */
  private async revokeWhere(where: Prisma.ApiKeyWhereInput, options: RevokeOptions, db: Prisma.TransactionClient): Promise<Revocation> {
    const at = options.at ?? new Date();
    const keys = await db.apiKey.updateManyAndReturn({
      where: {
        AND: [where, { status: { not: 'REVOKED' } }, { OR: [{ expiresAt: null }, { expiresAt: { gt: at } }] }],
      },
      data: {
        status: 'REVOKED',
        revocationReason: options.reason,
        revokedAt: at,
        revokedById: options.actorId,
        // A previous secret in its overlap ends with the key (rotation.ts).
        ...NO_PREVIOUS_SECRET,
      },
    });
    return { keys, ...(await this.recordConsequences(db, keys, at, actorOf(options))) };
  }

  /**
   * revokeWhere for a list of ids (bulk revocations take up to 10,000): the ids travel as one
   * array parameter. Prisma's `id IN (…)` binds one parameter per id, and with 10,000 that took
   * seconds of the request thread (measured: 2.8 s for the update alone, 66 ms this way).
   */
  private async revokeIds(ids: string[], options: RevokeOptions, db: Prisma.TransactionClient): Promise<Revocation> {
    const at = options.at ?? new Date();
    if (ids.length === 0) return { keys: [], notifications: [], emailIds: [] };
    const keys = await db.$queryRawUnsafe<ApiKey[]>(
      `UPDATE "ApiKey"
          SET "status" = 'REVOKED', "revocationReason" = $2::"RevocationReason", "revokedAt" = $3::timestamptz,
              "revokedById" = $4, "updatedAt" = $3::timestamptz, "previousHash" = NULL, "previousSecretExpiresAt" = NULL
        WHERE "id" = ANY($1::text[]) AND "status" <> 'REVOKED' AND ("expiresAt" IS NULL OR "expiresAt" > $3::timestamptz)
       RETURNING *`,
      ids,
      options.reason,
      at,
      options.actorId,
    );
    return { keys, ...(await this.recordConsequences(db, keys, at, actorOf(options))) };
  }

  /** In the revocation's transaction: the owners' notices, the keys' scanner findings resolved, the audit events. */
  private async recordConsequences(db: Prisma.TransactionClient, keys: RevokedKey[], at: Date, actor: AuditActor) {
    if (keys.length) {
      await recordAudit(
        db,
        actor,
        keys.map((key) => ({
          teamId: key.teamId,
          ...REVOKED_ACTION[key.kind],
          targetId: key.id,
          summary: `Revoked ${key.name} (${displayHint(key.kind, key.hint)}): ${key.revocationReason ?? 'REVOKED_BY_ADMIN'}`,
        })),
        at,
      );
      await db.$executeRawUnsafe(
        `UPDATE "ApiKeyExposure" SET "resolvedAt" = $2::timestamptz WHERE "keyId" = ANY($1::text[]) AND "resolvedAt" IS NULL`,
        keys.map((k) => k.id),
        at,
      );
    }
    return writeRevocationNotices(db, keys);
  }

  /**
   * Writes down up to `batch` expiries reached by `now` (REVOKED, EXPIRED, revokedAt = expiresAt)
   * with their notices. Rows are claimed with FOR UPDATE SKIP LOCKED, so instances running this
   * at once never write a key twice. In a transaction of its own, announced after commit like any
   * revocation; returns the keys written.
   */
  async persistExpired(now: Date, batch: number): Promise<Revoked[]> {
    const expired = await this.prisma.$transaction((tx) => this.writeExpired(now, batch, tx));
    this.announce(expired);
    return expired.keys;
  }

  private async writeExpired(now: Date, batch: number, db: Prisma.TransactionClient): Promise<Revocation<Revoked>> {
    const keys = await db.$queryRawUnsafe<Revoked[]>(
      `UPDATE "ApiKey" SET "status" = 'REVOKED', "revocationReason" = 'EXPIRED', "revokedAt" = "expiresAt", "updatedAt" = $1::timestamptz,
                           "previousHash" = NULL, "previousSecretExpiresAt" = NULL
        WHERE "id" IN (SELECT "id" FROM "ApiKey"
                        WHERE "status" <> 'REVOKED' AND "expiresAt" <= $1::timestamptz
                        ORDER BY "expiresAt" LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING "id", "teamId", "kind", "name", "hint", "hash", "createdById", "collectionId", "status",
                 "expiresAt", "updatedAt", "revokedAt", "revocationReason", "revokedById"`,
      now,
      batch,
    );
    // The key expired at its expiresAt; the job writes it down now, as SYSTEM.
    return { keys, ...(await this.recordConsequences(db, keys, now, SYSTEM_ACTOR)) };
  }

  /**
   * After commit: each key's change is published once (it stops authenticating here at once, its
   * sockets close after their apiKeyRevoked, subscribers everywhere hear of it through the change
   * feed), the owners' notifications go out, and the outbox is told about its new emails.
   */
  private announce({ keys, notifications, emailIds }: Revocation<Revoked>): void {
    for (const key of keys) this.keyChanges.publish(keyChanged(key, CHANGE_BY_REASON[key.revocationReason ?? 'REVOKED_BY_ADMIN']));
    for (const notification of notifications) this.pubsub.publish('notificationAdded', notification.userId, notification);
    if (emailIds.length) this.outbox.queued(emailIds);
  }

  /** Revoke and announce in one step, for callers without work of their own in the transaction. */
  revoke(where: Prisma.ApiKeyWhereInput, options: RevokeOptions): Promise<ApiKey[]> {
    return this.transaction((_tx, revoke) => revoke.where(where, options));
  }
}
