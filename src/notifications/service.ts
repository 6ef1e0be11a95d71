// The viewer's in-app notifications: newest first, keyset-paged, and marked read.
import type { Principal } from '../auth/principal.js';
import { type ConnectionPage, decodeCursor, invalidCursor, keysetPage } from '../domain/cursor.js';
import { codedError } from '../domain/errors.js';
import { boundedList, pageSize } from '../domain/input.js';
import type { Notification, Prisma, PrismaClient } from '../generated/prisma/client.js';

const MAX_MARK = 1_000;

export interface NotificationPage extends ConnectionPage<Notification> {
  totalCount: number;
  unreadCount: number;
}

type NotificationQuery = { include?: Prisma.NotificationInclude; select?: Prisma.NotificationSelect };

export class NotificationService {
  constructor(private readonly prisma: PrismaClient) {}

  async page(
    p: Principal,
    args: { unreadOnly?: boolean | null; first?: number | null; after?: string | null },
    query: NotificationQuery = {},
  ): Promise<NotificationPage> {
    const first = pageSize(args.first);
    const cursor = args.after ? decodeCursor(args.after) : null;
    const mine: Prisma.NotificationWhereInput = { userId: p.userId, ...(args.unreadOnly ? { readAt: null } : {}) };
    const at = cursor?.v ? new Date(cursor.v) : null;
    if (cursor && !at) throw invalidCursor(); // decodeCursor checked the date; null belongs to another order
    const [rows, totalCount, unreadCount] = await Promise.all([
      this.prisma.notification.findMany({
        ...query,
        where: at ? { AND: [mine, { OR: [{ createdAt: { lt: at } }, { createdAt: at, id: { lt: cursor!.id } }] }] } : mine,
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: first + 1,
      }),
      this.prisma.notification.count({ where: mine }),
      args.unreadOnly ? null : this.prisma.notification.count({ where: { userId: p.userId, readAt: null } }),
    ]);
    return {
      ...keysetPage(rows, first, cursor, (n) => ({ v: n.createdAt.toISOString(), id: n.id })),
      totalCount,
      unreadCount: unreadCount ?? totalCount,
    };
  }

  /** ids null = every unread one. Ids that are not the viewer's are NOT_FOUND and nothing changes. */
  async markRead(p: Principal, ids: string[] | null): Promise<number> {
    const readAt = new Date();
    if (ids === null) {
      const { count } = await this.prisma.notification.updateMany({ where: { userId: p.userId, readAt: null }, data: { readAt } });
      return count;
    }
    // Bounded before any work on the list.
    const wanted = [...new Set(boundedList('ids', ids, MAX_MARK, 'maxIds'))];
    return this.prisma.$transaction(async (tx) => {
      const found = await tx.notification.findMany({ where: { id: { in: wanted }, userId: p.userId }, select: { id: true } });
      if (found.length !== wanted.length) {
        const known = new Set(found.map((n) => n.id));
        const missing = wanted.filter((id) => !known.has(id));
        throw codedError('NOT_FOUND', `Notifications not found: ${missing.join(', ')}`, { ids: missing });
      }
      const { count } = await tx.notification.updateMany({ where: { id: { in: wanted }, readAt: null }, data: { readAt } });
      return count;
    });
  }
}
