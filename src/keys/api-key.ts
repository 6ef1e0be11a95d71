// The ApiKey type and its root fields: reading, generating and watching personal keys.

import { filter, pipe } from 'graphql-yoga';
import { auditActorOf } from '../audit/actor.js';
import { rules } from '../auth/policy.js';
import { isAdminRole } from '../auth/principal.js';
import type { ApiKey } from '../generated/prisma/client.js';
import { builder } from '../graphql/builder.js';
import { ApiKeyStatusEnum, RevocationReasonEnum } from '../graphql/enums.js';
import { listArgs } from '../graphql/list-args.js';
import type { ApiKeyGeneratedPayload } from '../realtime/pubsub.js';
import { UserRef } from '../teams/team.js';
import { displayHint } from './format.js';
import { selectAskedKeyColumns } from './key-selection.js';
import { runningOverlap } from './rotation.js';
import { effectiveLifecycle } from './status.js';

const RECORD_TYPE_BY_KIND = { PERSONAL: 'ApiKey', COLLECTION_ACCESS: 'CollectionAccessKey', SCIM: 'ScimApiKey' } as const;

/**
 * What every kind of key shows: personal keys (ApiKey), collection access keys and SCIM keys implement it,
 * so that status, expiry-as-revocation and hints are defined once.
 */
export const KeyRecordRef = builder.prismaInterface('ApiKey', {
  variant: 'KeyRecord',
  fields: (t) => ({
    id: t.exposeID('id'),
    hint: t.string({ description: 'The key as shown after creation, e.g. kp_…Xy9Q', resolve: (k) => displayHint(k.kind, k.hint) }),
    status: t.field({ type: ApiKeyStatusEnum, resolve: (k) => effectiveLifecycle(k).status }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
    createdBy: t.relation('createdBy', { type: UserRef }),
    revokedAt: t.field({ type: 'DateTime', nullable: true, resolve: (k) => effectiveLifecycle(k).revokedAt }),
    revocationReason: t.field({
      type: RevocationReasonEnum,
      nullable: true,
      resolve: (k) => effectiveLifecycle(k).revocationReason,
    }),
    revokedBy: t.relation('revokedBy', { type: UserRef, nullable: true }),
  }),
  resolveType: (k) => RECORD_TYPE_BY_KIND[k.kind],
});

/** A member's personal key: seen only by those who see members (see UserRef). */
export const ApiKeyRef = builder.prismaObject('ApiKey', {
  interfaces: [KeyRecordRef],
  runScopesOnType: true,
  authScopes: rules.seesMembers,
  fields: (t) => ({
    name: t.exposeString('name'),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
    previousSecretExpiresAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'After a regeneration with an overlap: until when the previous secret still works. null when no overlap runs.',
      resolve: (k) => runningOverlap(k.previousSecretExpiresAt, effectiveLifecycle(k).status),
    }),
    lastUsedFrom: t.exposeString('lastUsedFrom', {
      nullable: true,
      description: 'The client address of the last use (written with lastUsedAt, so it may lag as much).',
    }),
  }),
});

export const GeneratedApiKeyRef = builder.objectRef<{ apiKey: ApiKey; secret: string }>('GeneratedApiKey').implement({
  description: 'A new key. The secret is shown in this response only: it is never stored.',
  fields: (t) => ({
    apiKey: t.field({ type: ApiKeyRef, resolve: (g) => g.apiKey }),
    secret: t.exposeString('secret'),
  }),
});

const GenerateApiKeyInput = builder.inputType('GenerateApiKeyInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    expiresInDays: t.int(),
    expiresAt: t.field({ type: 'DateTime' }),
  }),
});

builder.queryFields((t) => ({
  apiKeys: t.withAuth(rules.personalKey).prismaField({
    type: [ApiKeyRef],
    description: "The viewer's own keys, revoked ones included, newest first; `after` is the last id of the previous page.",
    args: listArgs(t),
    resolve: (query, _root, args, ctx, info) => ctx.services.keys.listOwn(ctx.principal, args, selectAskedKeyColumns(info, [], query)),
  }),
  apiKey: t.withAuth(rules.personalKey).prismaField({
    type: ApiKeyRef,
    nullable: true,
    description: 'An own key (admins: any key of the team).',
    args: { id: t.arg.id({ required: true }) },
    // With the plugin's query: the creator or revoker asked for comes in the same read.
    resolve: (query, _root, { id }, ctx, info) => ctx.services.keys.findVisible(ctx.principal, id, selectAskedKeyColumns(info, [], query)),
  }),
}));

builder.mutationField('generateApiKey', (t) =>
  t.withAuth(rules.personalKey).field({
    type: GeneratedApiKeyRef,
    args: { input: t.arg({ type: GenerateApiKeyInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.keyGeneration.generate(ctx.principal, input, auditActorOf(ctx)),
  }),
);

builder.subscriptionField('apiKeyGenerated', (t) =>
  t.withAuth(rules.personalKey).prismaField({
    type: ApiKeyRef,
    description: "A key was generated: the viewer's own; for an admin, every key of the team.",
    subscribe: (_root, _args, ctx) => {
      const principal = ctx.principal;
      const events = ctx.services.pubsub.subscribe('apiKeyGenerated', principal.teamId);
      if (isAdminRole(principal.role)) return events;
      return pipe(
        events,
        filter((e: ApiKeyGeneratedPayload) => e.createdById === principal.userId),
      );
    },
    resolve: (query, event: ApiKeyGeneratedPayload, _args, ctx, info) =>
      ctx.services.prisma.apiKey.findUniqueOrThrow({ ...selectAskedKeyColumns(info, [], query), where: { id: event.keyId } }),
  }),
);
