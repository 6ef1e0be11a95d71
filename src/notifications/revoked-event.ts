// The apiKeyRevoked subscription: a member hears of their own keys, an admin of every key of
// the team; nobody of another team's (the channel is per team).
import { filter, pipe } from 'graphql-yoga';
import { rules } from '../auth/policy.js';
import { isAdminRole } from '../auth/principal.js';
import { CollectionAccessKeyRef } from '../collections/access-key.js';
import { builder } from '../graphql/builder.js';
import { RevocationReasonEnum } from '../graphql/enums.js';
import { ApiKeyRef } from '../keys/api-key.js';
import { endingAfter } from '../realtime/ending-after.js';
import type { ApiKeyRevokedPayload } from '../realtime/pubsub.js';
import { UserRef } from '../teams/team.js';

const ApiKeyRevokedEventRef = builder.objectRef<ApiKeyRevokedPayload>('ApiKeyRevokedEvent').implement({
  description: 'A key stopped working for good. Exactly one of apiKey and accessKey is set.',
  fields: (t) => ({
    apiKey: t.prismaField({
      type: ApiKeyRef,
      nullable: true,
      resolve: (query, e, _args, ctx) =>
        e.kind === 'PERSONAL' ? ctx.services.prisma.apiKey.findUnique({ ...query, where: { id: e.keyId } }) : null,
    }),
    accessKey: t.prismaField({
      type: CollectionAccessKeyRef,
      nullable: true,
      resolve: (query, e, _args, ctx) =>
        e.kind === 'COLLECTION_ACCESS' ? ctx.services.prisma.apiKey.findUnique({ ...query, where: { id: e.keyId } }) : null,
    }),
    reason: t.field({ type: RevocationReasonEnum, resolve: (e) => e.reason }),
    revokedAt: t.field({ type: 'DateTime', resolve: (e) => new Date(e.revokedAt) }),
    revokedBy: t.prismaField({
      type: UserRef,
      nullable: true,
      resolve: (query, e, _args, ctx) =>
        e.revokedById ? ctx.services.prisma.user.findUnique({ ...query, where: { id: e.revokedById } }) : null,
    }),
  }),
});

builder.subscriptionField('apiKeyRevoked', (t) =>
  t.withAuth(rules.personalKey).field({
    type: ApiKeyRevokedEventRef,
    description: "The viewer's keys; for an admin, every key of the team.",
    subscribe: (_root, _args, ctx) => {
      const principal = ctx.principal;
      const all = ctx.services.pubsub.subscribe('apiKeyRevoked', principal.teamId);
      const events = isAdminRole(principal.role)
        ? all
        : pipe(
            all,
            filter((e: ApiKeyRevokedPayload) => e.ownerId === principal.userId),
          );
      // The subscriber's own key's revocation is delivered before its connection closes (4401,
      // or the SSE stream ends): the close waits for this stream, which ends after that event.
      return endingAfter(
        events,
        (e) => e.keyId === principal.keyId,
        () => ctx.services.sockets.holdClose(ctx),
      );
    },
    resolve: (e) => e,
  }),
);
