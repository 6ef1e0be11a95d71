import { rules } from '../auth/policy.js';
import { builder } from '../graphql/builder.js';
import { PlanEnum, TeamRoleEnum } from '../graphql/enums.js';
import { listArgs } from '../graphql/list-args.js';

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
    active: t.boolean({
      select: { active: true, deletedAt: true },
      description: "false once deactivated or deleted by the identity provider (SCIM): the member's personal keys no longer authenticate.",
      // A deleted member (a tombstone) is not active, whatever its row says.
      resolve: (u) => u.active && u.deletedAt === null,
    }),
    externalId: t.exposeString('externalId', { nullable: true, description: "The identity provider's id for the member (SCIM)." }),
  }),
});

builder.queryField('teamMembers', (t) =>
  t.withAuth(rules.admin).prismaField({
    type: [UserRef],
    description:
      'The members of the team (admins), oldest first; `after` is the last id of the previous page. includeInactive: members deactivated or deleted through SCIM too.',
    args: { includeInactive: t.arg.boolean({ defaultValue: false }), ...listArgs(t) },
    resolve: (query, _root, args, ctx) => ctx.services.members.list(ctx.principal, args, query),
  }),
);
