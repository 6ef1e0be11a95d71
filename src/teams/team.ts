import { rules } from '../auth/policy.js';
import { builder } from '../graphql/builder.js';
import { PlanEnum, TeamRoleEnum } from '../graphql/enums.js';
import type { Prisma } from '../generated/prisma/client.js';
import { listArgs } from '../graphql/list-args.js';
import { listPage } from '../domain/list-page.js';

export const TeamRef = builder.prismaObject('Team', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    plan: t.expose('plan', { type: PlanEnum }),
  }),
});

/**
 * A team member. Who may see one is decided here, once, for every path that reaches a User
 * (createdBy, revokedBy, teamMembers, events…): runScopesOnType checks the rule on each User value
 * as it is completed, so a field that returns a User needs no rule of its own. A refused User is
 * a FORBIDDEN error on the field that returned it (a non-null field then nulls its parent).
 */
export const UserRef = builder.prismaObject('User', {
  runScopesOnType: true,
  authScopes: rules.seesMembers,
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    email: t.exposeString('email'),
    role: t.expose('role', { type: TeamRoleEnum }),
  }),
});

builder.queryField('teamMembers', (t) =>
  t.withAuth(rules.admin).prismaField({
    type: [UserRef],
    description: 'The members of the team (admins), oldest first; `after` is the last id of the previous page.',
    args: listArgs(t),
    resolve: async (query, _root, args, ctx) => {
      const team = { teamId: ctx.principal.teamId };
      const { prisma } = ctx.services;
      const page = await listPage(
        args,
        async (id) => (await prisma.user.findFirst({ where: { ...team, id }, select: { createdAt: true } }))?.createdAt ?? null,
        'createdAt',
        'asc',
      );
      return prisma.user.findMany({
        ...query,
        where: page.after ? { AND: [team, page.after as Prisma.UserWhereInput] } : team,
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
        take: page.take,
      });
    },
  }),
);
