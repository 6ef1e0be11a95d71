// The apiKeyRevoked subscription: a member hears of their own keys, an admin of every key of
// the team; nobody of another team's (the stream is per team). It follows the key change bus
// (keys/events.ts), which brings every instance's revocations (the database's change feed):
// no pub/sub publish of its own.
import { rules } from '../auth/policy.js';
import { isAdminRole } from '../auth/principal.js';
import { CollectionAccessKeyRef } from '../collections/access-key.js';
import { builder } from '../graphql/builder.js';
import { RevocationReasonEnum } from '../graphql/enums.js';
import { ApiKeyRef } from '../keys/api-key.js';
import type { KeyChanged, KeyRevoked } from '../keys/events.js';
import { endingAfter } from '../realtime/ending-after.js';
import { ScimApiKeyRef } from '../scim/scim-api-key.js';
import { UserRef } from '../teams/team.js';

const ApiKeyRevokedEventRef = builder.objectRef<KeyRevoked>('ApiKeyRevokedEvent').implement({
  description: 'A key stopped working for good. Exactly one of apiKey, accessKey and scimApiKey is set.',
  fields: (t) => ({
    apiKey: t.prismaField({
      type: ApiKeyRef,
      nullable: true,
      resolve: (query, e, _args, ctx) =>
        e.keyKind === 'PERSONAL' ? ctx.services.prisma.apiKey.findUnique({ ...query, where: { id: e.keyId } }) : null,
    }),
    accessKey: t.prismaField({
      type: CollectionAccessKeyRef,
      nullable: true,
      resolve: (query, e, _args, ctx) =>
        e.keyKind === 'COLLECTION_ACCESS' ? ctx.services.prisma.apiKey.findUnique({ ...query, where: { id: e.keyId } }) : null,
    }),
    scimApiKey: t.prismaField({
      type: ScimApiKeyRef,
      nullable: true,
      resolve: (query, e, _args, ctx) =>
        e.keyKind === 'SCIM' ? ctx.services.prisma.apiKey.findUnique({ ...query, where: { id: e.keyId } }) : null,
    }),
    reason: t.field({ type: RevocationReasonEnum, resolve: (e) => e.revocation.reason }),
    revokedAt: t.field({ type: 'DateTime', resolve: (e) => e.revocation.revokedAt }),
    revokedBy: t.prismaField({
      type: UserRef,
      nullable: true,
      resolve: (query, e, _args, ctx) =>
        e.revocation.revokedById ? ctx.services.prisma.user.findUnique({ ...query, where: { id: e.revocation.revokedById } }) : null,
    }),
  }),
});

builder.subscriptionField('apiKeyRevoked', (t) =>
  t.withAuth(rules.personalKey).field({
    type: ApiKeyRevokedEventRef,
    description: "The viewer's keys; for an admin, every key of the team.",
    subscribe: (_root, _args, ctx) => {
      const principal = ctx.principal;
      const seesAll = isAdminRole(principal.role);
      const events = ctx.services.keyChanges.stream(
        principal.teamId,
        (e: KeyChanged): e is KeyRevoked => e.revocation !== undefined && (seesAll || e.ownerId === principal.userId),
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
