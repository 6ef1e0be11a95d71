// The Invitation type, inviteTeamMember (admins) and acceptInvitation (no key needed).
import { auditActorOf, requestOriginOf } from '../audit/actor.js';
import { rules } from '../auth/policy.js';
import type { Invitation } from '../generated/prisma/client.js';
import { builder } from '../graphql/builder.js';
import { TeamRoleEnum } from '../graphql/enums.js';
import { GeneratedApiKeyRef } from '../keys/api-key.js';

const InvitationRef = builder.objectRef<Invitation & { token: string }>('Invitation').implement({
  description: 'The token is shown in this response only: send it to the invitee.',
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email'),
    name: t.exposeString('name'),
    role: t.expose('role', { type: TeamRoleEnum }),
    token: t.exposeString('token'),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
  }),
});

builder.mutationFields((t) => ({
  inviteTeamMember: t.withAuth(rules.admin).field({
    type: InvitationRef,
    description:
      'Invites a new member, or gives an existing member without an active key (provisioned by SCIM, or reactivated) a way to their first key: then name and role are ignored (the invitation shows the member as they are). The token is returned here only: never emailed, only its hash stored.',
    args: {
      email: t.arg.string({ required: true }),
      name: t.arg.string({ required: true }),
      role: t.arg({ type: TeamRoleEnum, defaultValue: 'MEMBER' }),
    },
    resolve: (_root, { email, name, role }, ctx) =>
      ctx.services.invitations.invite(ctx.principal, { email, name, role: role ?? 'MEMBER' }, auditActorOf(ctx)),
  }),
  acceptInvitation: t.field({
    type: GeneratedApiKeyRef,
    description: "Needs no key: the invitation token is the credential. Returns the member's first key.",
    skipTypeScopes: true,
    args: {
      token: t.arg.string({ required: true }),
      keyName: t.arg.string({ required: true }),
    },
    resolve: (_root, { token, keyName }, ctx) =>
      ctx.services.invitations.acceptFrom(ctx.clientAddress, token, keyName, requestOriginOf(ctx).userAgent),
  }),
}));
