// The members of a team, as an admin lists them: oldest first, keyset pages by id. Members
// deactivated or deleted (SCIM) only when asked for (a deleted one is a tombstone kept for its keys).
import type { Principal } from '../auth/principal.js';
import { type ListArgs, listPage } from '../domain/list-page.js';
import type { Prisma, PrismaClient } from '../generated/prisma/client.js';

export class MemberService {
  constructor(private readonly prisma: PrismaClient) {}

  /** `query` is what the operation asks of each member (plugin-prisma's select/include). */
  async list(
    p: Principal,
    args: ListArgs & { includeInactive?: boolean | null },
    query: { select?: Prisma.UserSelect; include?: Prisma.UserInclude } = {},
  ) {
    const team: Prisma.UserWhereInput = args.includeInactive ? { teamId: p.teamId } : { teamId: p.teamId, active: true, deletedAt: null };
    const page = await listPage(
      args,
      // The after row is looked up in the whole team: a member deactivated meanwhile still pages.
      async (id) => (await this.prisma.user.findFirst({ where: { teamId: p.teamId, id }, select: { createdAt: true } }))?.createdAt ?? null,
      'createdAt',
      'asc',
    );
    return this.prisma.user.findMany({
      ...query,
      where: page.after ? { AND: [team, page.after as Prisma.UserWhereInput] } : team,
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      take: page.take,
    });
  }
}
