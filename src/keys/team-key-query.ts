// teamApiKeys: every personal key of a team, filtered, ordered and keyset-paginated (stable when
// many keys share a timestamp: the id breaks ties). An expired key counts as REVOKED in filters.
import type { Principal } from '../auth/principal.js';
import type { ApiKey, Prisma, PrismaClient } from '../generated/prisma/client.js';
import type { ApiKeyStatus } from '../generated/prisma/enums.js';
import { badInput } from '../graphql/errors.js';
import { parseKey } from './format.js';

export type ApiKeyOrder = 'NEWEST' | 'OLDEST' | 'RECENTLY_USED';

export interface TeamKeyFilter {
  statuses?: ApiKeyStatus[] | null;
  createdBy?: string | null;
  keyValue?: string | null;
}

interface Cursor {
  /** the sort value (ISO date, or null for a never-used key) and the id */
  v: string | null;
  id: string;
}

const HINT = /^(?:kp_(?:…|\.\.\.))?([0-9A-Za-z]{4})$/;
export const MAX_PAGE = 200;

export const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString('base64url');

function decodeCursor(after: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(after, 'base64url').toString()) as Cursor;
    if (typeof c.id === 'string' && (c.v === null || typeof c.v === 'string')) return c;
  } catch {
    // fall through
  }
  throw badInput('after', 'is not a cursor from this connection');
}

function statusWhere(status: ApiKeyStatus, now: Date): Prisma.ApiKeyWhereInput {
  const live = { OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] };
  if (status === 'REVOKED') return { OR: [{ status: 'REVOKED' }, { expiresAt: { lte: now } }] };
  return { AND: [{ status }, live] };
}

export class TeamKeyQuery {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly hash: (key: string) => string,
  ) {}

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
    const where: Prisma.ApiKeyWhereInput = cursor ? { AND: [base, after(order, cursor)] } : base;
    const [rows, totalCount] = await Promise.all([
      this.prisma.apiKey.findMany({ ...query, where, orderBy: orderBy(order), take: first + 1 }),
      this.prisma.apiKey.count({ where: base }),
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
}

function orderBy(order: ApiKeyOrder): Prisma.ApiKeyOrderByWithRelationInput[] {
  switch (order) {
    case 'OLDEST':
      return [{ createdAt: 'asc' }, { id: 'asc' }];
    case 'RECENTLY_USED':
      return [{ lastUsedAt: { sort: 'desc', nulls: 'last' } }, { id: 'desc' }];
    default:
      return [{ createdAt: 'desc' }, { id: 'desc' }];
  }
}

function cursorOf(order: ApiKeyOrder, key: ApiKey): Cursor {
  const v = order === 'RECENTLY_USED' ? key.lastUsedAt : key.createdAt;
  return { v: v ? v.toISOString() : null, id: key.id };
}

/** Rows strictly after the cursor in the given order (keyset pagination, no OFFSET). */
function after(order: ApiKeyOrder, c: Cursor): Prisma.ApiKeyWhereInput {
  if (order === 'RECENTLY_USED') {
    if (c.v === null) return { lastUsedAt: null, id: { lt: c.id } };
    const at = new Date(c.v);
    return { OR: [{ lastUsedAt: { lt: at } }, { lastUsedAt: at, id: { lt: c.id } }, { lastUsedAt: null }] };
  }
  const at = new Date(c.v!);
  return order === 'OLDEST'
    ? { OR: [{ createdAt: { gt: at } }, { createdAt: at, id: { gt: c.id } }] }
    : { OR: [{ createdAt: { lt: at } }, { createdAt: at, id: { lt: c.id } }] };
}
