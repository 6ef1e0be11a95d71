// teamApiKeys: every personal key of a team, filtered, ordered and keyset-paginated (stable when
// many keys share a timestamp: the id breaks ties). An expired key counts as REVOKED in filters.
import type { Principal } from '../auth/principal.js';
import { type ConnectionPage, type Cursor, decodeCursor, invalidCursor, keysetPage } from '../domain/cursor.js';
import { badInput } from '../domain/errors.js';
import { pageSize } from '../domain/input.js';
import type { ApiKey, Prisma, PrismaClient } from '../generated/prisma/client.js';
import type { ApiKeyStatus } from '../generated/prisma/enums.js';
import { parseKey } from './format.js';

export type ApiKeyOrder = 'NEWEST' | 'OLDEST' | 'RECENTLY_USED';

export interface TeamKeyFilter {
  statuses?: ApiKeyStatus[] | null;
  createdBy?: string | null;
  keyValue?: string | null;
}

const HINT = /^(?:kp_(?:…|\.\.\.))?([0-9A-Za-z]{4})$/;

/**
 * The keys that read as one of `statuses` now, as one flat condition. An expired key reads REVOKED
 * (SPEC §4 "Expiry"), so ENABLED/DISABLED mean "stored so and not expired".
 */
function statusWhere(statuses: ApiKeyStatus[], now: Date): Prisma.ApiKeyWhereInput {
  const stored = statuses.filter((s): s is 'ENABLED' | 'DISABLED' => s !== 'REVOKED');
  const live: Prisma.ApiKeyWhereInput | null = stored.length
    ? { status: stored.length === 1 ? stored[0] : { in: stored }, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] }
    : null;
  const revoked: Prisma.ApiKeyWhereInput | null = statuses.includes('REVOKED')
    ? { OR: [{ status: 'REVOKED' }, { expiresAt: { lte: now } }] }
    : null;
  if (live && revoked) return stored.length === 2 ? {} : { OR: [live, revoked] }; // all three: every key
  return (live ?? revoked)!;
}

export class TeamKeyQuery {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly hash: (key: string) => string,
  ) {}

  /**
   * totalCount. By key value it counts the one or few matching rows. Otherwise counting 100,000
   * index entries cost 30–50 ms: the count comes instead from TeamKeyCount, which database
   * triggers keep per team, creator, kind and status, corrected for keys that expired since the
   * expiry job last ran (they read REVOKED at once; an index on team, status and expiry finds
   * just those).
   */
  private async count(p: Principal, filter: TeamKeyFilter | null | undefined, where: Prisma.ApiKeyWhereInput, now: Date): Promise<number> {
    if (filter?.keyValue != null) return this.prisma.apiKey.count({ where });
    // One statement, so one snapshot: a key the expiry job persists meanwhile is counted once.
    const rows = await this.prisma.$queryRawUnsafe<{ source: 'stored' | 'expired'; status: ApiKeyStatus; n: number }[]>(
      `SELECT 'stored' AS source, "status", SUM("n")::int AS n FROM "TeamKeyCount"
        WHERE "teamId" = $1 AND "kind" = 'PERSONAL' AND ($2::text IS NULL OR "createdById" = $2)
        GROUP BY "status"
       UNION ALL
       SELECT 'expired', "status", COUNT(*)::int FROM "ApiKey"
        WHERE "teamId" = $1 AND "kind" = 'PERSONAL' AND "status" IN ('ENABLED', 'DISABLED')
          AND "expiresAt" <= $3::timestamptz AND ($2::text IS NULL OR "createdById" = $2)
        GROUP BY "status"`,
      p.teamId,
      filter?.createdBy ?? null,
      now,
    );
    const n: Record<ApiKeyStatus, number> = { ENABLED: 0, DISABLED: 0, REVOKED: 0 };
    for (const row of rows) {
      if (row.source === 'stored') n[row.status] += row.n;
      else {
        n[row.status] -= row.n;
        n.REVOKED += row.n;
      }
    }
    const statuses = filter?.statuses?.length ? [...new Set(filter.statuses)] : (Object.keys(n) as ApiKeyStatus[]);
    return statuses.reduce((sum, s) => sum + n[s], 0);
  }

  /**
   * One flat condition (no AND/OR nesting where none is needed): Prisma 6 compiles every query in
   * WASM on the request thread, and a nested tree for the same SQL cost ~1 ms more per page.
   */
  where(p: Principal, filter: TeamKeyFilter | null | undefined, now = new Date()): Prisma.ApiKeyWhereInput {
    const where: Prisma.ApiKeyWhereInput = {
      teamId: p.teamId,
      kind: 'PERSONAL',
      ...(filter?.statuses && filter.statuses.length > 0 ? statusWhere([...new Set(filter.statuses)], now) : {}),
    };
    if (filter?.createdBy) where.createdById = filter.createdBy;
    if (filter?.keyValue != null) {
      const value = filter.keyValue.trim();
      const parsed = parseKey(value);
      if (parsed.ok) {
        // A rotated key's previous secret still works during its overlap: it finds its key too.
        const hash = this.hash(value);
        // Under AND: the status filter may use the top-level OR (statusWhere).
        where.AND = [{ OR: [{ hash }, { previousHash: hash, previousSecretExpiresAt: { gt: now } }] }];
      } else {
        const hint = HINT.exec(value)?.[1];
        if (!hint) throw badInput('filter.keyValue', 'give a whole key, or its last 4 characters (Xy9Q or kp_…Xy9Q)');
        where.hint = hint;
      }
    }
    return where;
  }

  async page(
    p: Principal,
    args: { filter?: TeamKeyFilter | null; orderBy?: ApiKeyOrder | null; first?: number | null; after?: string | null },
    query: { include?: Prisma.ApiKeyInclude; select?: Prisma.ApiKeySelect } = {},
  ): Promise<ConnectionPage<ApiKey> & { totalCount: number }> {
    const first = pageSize(args.first);
    const order = args.orderBy ?? 'NEWEST';
    const now = new Date();
    const base = this.where(p, args.filter, now);
    const cursor = args.after ? decodeCursor(args.after) : null;
    // Only RECENTLY_USED orders by a column that may be null.
    if (cursor && cursor.v === null && order !== 'RECENTLY_USED') throw invalidCursor();
    // A narrowed selection still reads what the cursors are made of.
    if (query.select) query = { select: { ...query.select, createdAt: true, lastUsedAt: true } };
    const [rows, totalCount] = await Promise.all([
      order === 'RECENTLY_USED'
        ? this.recentlyUsed(base, cursor, first + 1, query)
        : this.prisma.apiKey.findMany({
            ...query,
            where: cursor ? { ...base, AND: [...conditionsOf(base), after(order, cursor)] } : base,
            orderBy: orderBy(order),
            take: first + 1,
          }),
      this.count(p, args.filter, base, now),
    ]);
    return { ...keysetPage(rows as ApiKey[], first, cursor, (key) => cursorOf(order, key)), totalCount };
  }

  /**
   * Most recently used first, never-used keys last, in two index range scans: the used keys by
   * (lastUsedAt DESC, id DESC), then the never-used ones by id DESC. (One ORDER BY … NULLS LAST
   * would sort the whole team: the index keeps NULLs first.)
   */
  private async recentlyUsed(
    base: Prisma.ApiKeyWhereInput,
    cursor: Cursor | null,
    take: number,
    query: { include?: Prisma.ApiKeyInclude; select?: Prisma.ApiKeySelect },
  ): Promise<ApiKey[]> {
    const used: ApiKey[] = [];
    if (!cursor || cursor.v !== null) {
      const at = cursor?.v ? new Date(cursor.v) : null;
      const rows = await this.prisma.apiKey.findMany({
        ...query,
        where: {
          ...base,
          lastUsedAt: { not: null },
          ...(at && cursor
            ? { AND: [...conditionsOf(base), { OR: [{ lastUsedAt: { lt: at } }, { lastUsedAt: at, id: { lt: cursor.id } }] }] }
            : {}),
        },
        orderBy: [{ lastUsedAt: 'desc' }, { id: 'desc' }],
        take,
      });
      used.push(...(rows as ApiKey[]));
      if (used.length === take) return used;
    }
    const never = await this.prisma.apiKey.findMany({
      ...query,
      where: { ...base, lastUsedAt: null, ...(cursor?.v === null ? { id: { lt: cursor.id } } : {}) },
      orderBy: [{ id: 'desc' }],
      take: take - used.length,
    });
    return [...used, ...(never as ApiKey[])];
  }
}

function orderBy(order: 'NEWEST' | 'OLDEST'): Prisma.ApiKeyOrderByWithRelationInput[] {
  return order === 'OLDEST' ? [{ createdAt: 'asc' }, { id: 'asc' }] : [{ createdAt: 'desc' }, { id: 'desc' }];
}

function cursorOf(order: ApiKeyOrder, key: ApiKey): Cursor {
  const v = order === 'RECENTLY_USED' ? key.lastUsedAt : key.createdAt;
  return { v: v ? v.toISOString() : null, id: key.id };
}

/** The base filter's AND conditions, kept when a page adds its own. */
function conditionsOf(where: Prisma.ApiKeyWhereInput): Prisma.ApiKeyWhereInput[] {
  return where.AND === undefined ? [] : Array.isArray(where.AND) ? where.AND : [where.AND];
}

/** Rows strictly after the cursor in the given order (keyset pagination, no OFFSET). */
function after(order: 'NEWEST' | 'OLDEST', c: Cursor): Prisma.ApiKeyWhereInput {
  const at = new Date(c.v!);
  return order === 'OLDEST'
    ? { OR: [{ createdAt: { gt: at } }, { createdAt: at, id: { gt: c.id } }] }
    : { OR: [{ createdAt: { lt: at } }, { createdAt: at, id: { lt: c.id } }] };
}
