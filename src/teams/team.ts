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
