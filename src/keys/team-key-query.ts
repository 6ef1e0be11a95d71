// teamApiKeys: every personal key of a team, filtered, ordered and keyset-paginated (stable when
// many keys share a timestamp: the id breaks ties). An expired key counts as REVOKED in filters.
import { LRUCache } from 'lru-cache';
import type { Principal } from '../auth/principal.js';
import type { ApiKey, Prisma, PrismaClient } from '../generated/prisma/client.js';
import type { ApiKeyStatus } from '../generated/prisma/enums.js';
import { badInput } from '../graphql/errors.js';
import { type Cursor, decodeCursor, encodeCursor } from '../graphql/cursor.js';
import type { KeyEvents } from './events.js';
import { parseKey } from './format.js';

export type ApiKeyOrder = 'NEWEST' | 'OLDEST' | 'RECENTLY_USED';

export interface TeamKeyFilter {
  statuses?: ApiKeyStatus[] | null;
  createdBy?: string | null;
  keyValue?: string | null;
}

const HINT = /^(?:kp_(?:…|\.\.\.))?([0-9A-Za-z]{4})$/;
export const MAX_PAGE = 200;

function statusWhere(status: ApiKeyStatus, now: Date): Prisma.ApiKeyWhereInput {
  const live = { OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] };
  if (status === 'REVOKED') return { OR: [{ status: 'REVOKED' }, { expiresAt: { lte: now } }] };
  return { AND: [{ status }, live] };
}

/** How long a team's totalCount may be reused when no key of the team changed on this instance. */
const COUNT_TTL_MS = 5_000;

export class TeamKeyQuery {
  /**
   * Exact counts of a 100,000-key team cost 30–50 ms (an index-only scan of every entry), the
   * page itself well under 1 ms: counts are kept per team and filter, and dropped whenever a key
   * of the team is created or changes (the team's generation is part of the cache key). Past
   * COUNT_TTL_MS a count is recounted in the background while the last one is served, so a key
   * that merely expired is counted in its new status a few seconds later.
   */
  private readonly counts = new LRUCache<string, number, Prisma.ApiKeyWhereInput>({
    max: 10_000,
    ttl: COUNT_TTL_MS,
    allowStale: true,
    noDeleteOnFetchRejection: true,
    fetchMethod: (_key, _stale, { context }) => this.prisma.apiKey.count({ where: context }),
  });
  private readonly generations = new Map<string, number>();

  constructor(
    private readonly prisma: PrismaClient,
    private readonly hash: (key: string) => string,
    events: KeyEvents,
  ) {
    const bump = ({ teamId }: { teamId: string }) => this.generations.set(teamId, (this.generations.get(teamId) ?? 0) + 1);
    events.on('changed', bump);
    events.on('created', bump);
  }

  private count(p: Principal, filter: TeamKeyFilter | null | undefined, where: Prisma.ApiKeyWhereInput): Promise<number> {
    if (filter?.keyValue != null) return this.prisma.apiKey.count({ where }); // one row: not worth caching
    const statuses = [...new Set(filter?.statuses ?? [])].sort().join(',');
    const key = `${p.teamId}|${this.generations.get(p.teamId) ?? 0}|${statuses}|${filter?.createdBy ?? ''}`;
    return this.counts.fetch(key, { context: where }) as Promise<number>;
  }

  where(p: Principal, filter: TeamKeyFilter | null | undefined, now = new Date()): Prisma.ApiKeyWhereInput {
    const and: Prisma.ApiKeyWhereInput[] = [{ teamId: p.teamId, kind: 'PERSONAL' }];
    if (filter?.statuses && filter.statuses.length > 0) {
      and.push({ OR: [...new Set(filter.statuses)].map((s) => statusWhere(s, now)) });
    }
    if (filter?.createdBy) and.push({ createdById: filter.createdBy });
    if (filter?.keyValue != null) {
      const value = filter.keyValue.trim();
      const parsed = parseKey(value);
      if (parsed.ok) and.push({ hash: this.hash(value) });
      else {
        const hint = HINT.exec(value)?.[1];
        if (!hint) throw badInput('filter.keyValue', 'give a whole key, or its last 4 characters (Xy9Q or kp_…Xy9Q)');
        and.push({ hint });
      }
    }
    return { AND: and };
  }

  async page(
    p: Principal,
    args: { filter?: TeamKeyFilter | null; orderBy?: ApiKeyOrder | null; first?: number | null; after?: string | null },
    query: { include?: Prisma.ApiKeyInclude; select?: Prisma.ApiKeySelect } = {},
  ) {
    const first = args.first ?? 50;
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw badInput('first', `must be from 1 to ${MAX_PAGE}`);
    const order = args.orderBy ?? 'NEWEST';
    const base = this.where(p, args.filter);
    const cursor = args.after ? decodeCursor(args.after) : null;
    const [rows, totalCount] = await Promise.all([
      order === 'RECENTLY_USED'
        ? this.recentlyUsed(base, cursor, first + 1, query)
        : this.prisma.apiKey.findMany({
            ...query,
            where: cursor ? { AND: [base, after(order, cursor)] } : base,
            orderBy: orderBy(order),
            take: first + 1,
          }),
      this.count(p, args.filter, base),
    ]);
    const nodes = rows.slice(0, first) as ApiKey[];
    const edges = nodes.map((node) => ({ node, cursor: encodeCursor(cursorOf(order, node)) }));
    return {
      edges,
      totalCount,
      pageInfo: {
        hasNextPage: rows.length > first,
        hasPreviousPage: cursor !== null,
        startCursor: edges[0]?.cursor ?? null,
        endCursor: edges.at(-1)?.cursor ?? null,
      },
    };
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
          AND: [
            base,
            { lastUsedAt: { not: null } },
            ...(at && cursor ? [{ OR: [{ lastUsedAt: { lt: at } }, { lastUsedAt: at, id: { lt: cursor.id } }] }] : []),
          ],
        },
        orderBy: [{ lastUsedAt: 'desc' }, { id: 'desc' }],
        take,
      });
      used.push(...(rows as ApiKey[]));
      if (used.length === take) return used;
    }
    const never = await this.prisma.apiKey.findMany({
      ...query,
      where: { AND: [base, { lastUsedAt: null }, ...(cursor?.v === null ? [{ id: { lt: cursor.id } }] : [])] },
      orderBy: [{ id: 'desc' }],
      take: take - used.length,
    });
    return [...used, ...(never as ApiKey[])];
  }
}

function orderBy(order: 'NEWEST' | 'OLDEST'): Prisma.ApiKeyOrderByWithRelationInput[] {
  return order === 'OLDEST'
    ? [{ createdAt: 'asc' }, { id: 'asc' }]
    : [{ createdAt: 'desc' }, { id: 'desc' }];
}

function cursorOf(order: ApiKeyOrder, key: ApiKey): Cursor {
  const v = order === 'RECENTLY_USED' ? key.lastUsedAt : key.createdAt;
  return { v: v ? v.toISOString() : null, id: key.id };
}

/** Rows strictly after the cursor in the given order (keyset pagination, no OFFSET). */
function after(order: 'NEWEST' | 'OLDEST', c: Cursor): Prisma.ApiKeyWhereInput {
  const at = new Date(c.v!);
  return order === 'OLDEST'
    ? { OR: [{ createdAt: { gt: at } }, { createdAt: at, id: { gt: c.id } }] }
    : { OR: [{ createdAt: { lt: at } }, { createdAt: at, id: { lt: c.id } }] };
}
