import { rules } from '../auth/policy.js';
import { builder } from '../graphql/builder.js';
import { PlanEnum, TeamRoleEnum } from '../graphql/enums.js';

export const TeamRef = builder.prismaObject('Team', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    plan: t.expose('plan', { type: PlanEnum }),
  }),
});

export const UserRef = builder.prismaObject('User', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    email: t.exposeString('email'),
    role: t.expose('role', { type: TeamRoleEnum }),
  }),
});

builder.queryField('teamMembers', (t) =>
  t.prismaField({
    type: [UserRef],
    description: 'Every member of the team (admins).',
    authScopes: rules.admin,
    resolve: (query, _root, _args, ctx) =>
      ctx.services.prisma.user.findMany({
        ...query,
        where: { teamId: ctx.principal!.teamId },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      }),
  }),
);
