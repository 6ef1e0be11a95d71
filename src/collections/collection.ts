// The Collection type and its root fields. Readable with a collection access key for it (its
// createdBy excepted: a read-only key does not see team members).
import { auditActorOf } from '../audit/actor.js';
import { rules } from '../auth/policy.js';
import { builder } from '../graphql/builder.js';
import { REQUESTS_COST } from '../graphql/cost.js';
import { listArgs } from '../graphql/list-args.js';
import { UserRef } from '../teams/team.js';

export const CollectionRef = builder.prismaObject('Collection', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    // Up to maxCollectionBytes of JSON: it weighs far more than a scalar in the cost limit.
    requests: t.expose('requests', { type: 'JSON', extensions: { cost: REQUESTS_COST } }),
    createdBy: t.relation('createdBy', { type: UserRef, authScopes: { personalKey: true } }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    deletedAt: t.expose('deletedAt', { type: 'DateTime', nullable: true }),
  }),
});

export const CollectionInput = builder.inputType('CollectionInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    description: t.string(),
    requests: t.field({ type: 'JSON', description: '[{ name, method, url, headers, body }]' }),
  }),
});

builder.queryFields((t) => ({
  collections: t.withAuth(rules.personalKey).prismaField({
    type: [CollectionRef],
    description: "The team's collections, newest first (deleted ones are not listed); `after` is the last id of the previous page.",
    args: listArgs(t),
    resolve: (query, _root, args, ctx) => ctx.services.collections.list(ctx.principal, args, query),
  }),
  collection: t.withAuth(rules.anyKey).prismaField({
    type: CollectionRef,
    nullable: true,
    description: 'A collection of the team; with a collection access key, its own collection only.',
    skipTypeScopes: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, { id }, ctx) => ctx.services.collections.find(ctx.principal, id, query),
  }),
}));

builder.mutationFields((t) => ({
  createCollection: t.withAuth(rules.personalKey).field({
    type: CollectionRef,
    args: { input: t.arg({ type: CollectionInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.collections.create(ctx.principal, input, auditActorOf(ctx)),
  }),
  updateCollection: t.withAuth(rules.personalKey).field({
    type: CollectionRef,
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: CollectionInput, required: true }) },
    resolve: (_root, { id, input }, ctx) => ctx.services.collections.update(ctx.principal, id, input, auditActorOf(ctx)),
  }),
  deleteCollection: t.withAuth(rules.personalKey).field({
    type: CollectionRef,
    description:
      'By its creator or an admin. Revokes its access keys (COLLECTION_DELETED); the collection is kept as a tombstone (deletedAt).',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => ctx.services.collections.delete(ctx.principal, id, auditActorOf(ctx)),
  }),
}));
