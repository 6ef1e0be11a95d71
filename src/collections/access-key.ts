// CollectionAccessKey: an ApiKey row of kind COLLECTION_ACCESS, seen through its own type.

import { auditActorOf } from '../audit/actor.js';
import { rules } from '../auth/policy.js';
import type { ApiKey } from '../generated/prisma/client.js';
import { builder } from '../graphql/builder.js';
import { listArgs } from '../graphql/list-args.js';
import { KeyRecordRef } from '../keys/api-key.js';
import { CollectionRef } from './collection.js';

export const CollectionAccessKeyRef = builder.prismaObject('ApiKey', {
  variant: 'CollectionAccessKey',
  interfaces: [KeyRecordRef],
  fields: (t) => ({
    collection: t.field({
      type: CollectionRef,
      description: 'Its collection, even once deleted (a tombstone).',
      select: (_args, _ctx, nestedSelection) => ({ collection: nestedSelection(true) }),
      resolve: (k) => k.collection!,
    }),
  }),
});

const GeneratedCollectionAccessKeyRef = builder.objectRef<{ accessKey: ApiKey; secret: string }>('GeneratedCollectionAccessKey').implement({
  description: 'A new collection access key. The secret is shown in this response only.',
  fields: (t) => ({
    accessKey: t.field({ type: CollectionAccessKeyRef, resolve: (g) => g.accessKey }),
    secret: t.exposeString('secret'),
  }),
});

builder.queryField('collectionAccessKeys', (t) =>
  t.withAuth(rules.personalKey).prismaField({
    type: [CollectionAccessKeyRef],
    description:
      "The whole team's collection access keys (or one collection's), newest first; `after` is the last id of the previous page.",
    args: { collectionId: t.arg.id(), ...listArgs(t) },
    resolve: (query, _root, { collectionId, ...page }, ctx) =>
      ctx.services.collections.listAccessKeys(ctx.principal, collectionId ?? null, page, query),
  }),
);

builder.mutationFields((t) => ({
  shareCollection: t.withAuth(rules.personalKey).field({
    type: GeneratedCollectionAccessKeyRef,
    description: 'A new read-only key for one collection, on every share.',
    args: { collectionId: t.arg.id({ required: true }) },
    resolve: (_root, { collectionId }, ctx) => ctx.services.collections.share(ctx.principal, collectionId, auditActorOf(ctx)),
  }),
  revokeCollectionAccessKey: t.withAuth(rules.personalKey).field({
    type: CollectionAccessKeyRef,
    description: "By the key's creator or a team admin; the key fails at once.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => ctx.services.collections.revokeAccessKey(ctx.principal, id, auditActorOf(ctx)),
  }),
}));
