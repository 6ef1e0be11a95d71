// The admin dashboard's API over personal keys (ENTERPRISE plan, admins): list with filters,
// order and pages; revoke some or all (keys/team-key-admin.ts).

import { queryFromInfo } from '@pothos/plugin-prisma';
import { auditActorOf } from '../audit/actor.js';
import { rules } from '../auth/policy.js';
import type { ApiKey } from '../generated/prisma/client.js';
import { builder } from '../graphql/builder.js';
import { connectionArgs } from '../graphql/connection.js';
import { ApiKeyStatusEnum } from '../graphql/enums.js';
import { ApiKeyRef } from './api-key.js';
import { selectAskedKeyColumns } from './key-selection.js';

const ApiKeyOrderEnum = builder.enumType('ApiKeyOrder', {
  values: { NEWEST: {}, OLDEST: {}, RECENTLY_USED: { description: 'most recently used first; never-used keys last' } },
});

const TeamApiKeyFilter = builder.inputType('TeamApiKeyFilter', {
  fields: (t) => ({
    statuses: t.field({ type: [ApiKeyStatusEnum], description: 'any of these (none = all); an expired key is REVOKED' }),
    createdBy: t.id(),
    keyValue: t.string({ description: 'a whole key (found by its hash) or a hint: Xy9Q or kp_…Xy9Q' }),
  }),
});

const ApiKeyConnectionRef = builder.connectionObject<typeof ApiKeyRef, { totalCount: number }>({
  type: ApiKeyRef,
  name: 'ApiKeyConnection',
  fields: (t) => ({ totalCount: t.exposeInt('totalCount') }),
});

/** A bulk payload lists at most this many of the keys it revoked; revokedCount counts them all (SPEC §5). */
export const MAX_PAYLOAD_KEYS = 1_000;

export const RevokeApiKeysPayloadRef = builder.objectRef<{ apiKeys: ApiKey[] }>('RevokeApiKeysPayload').implement({
  description: `The keys this call revoked (keys already revoked are left as they were, and not listed): revokedCount is exact, apiKeys lists at most ${MAX_PAYLOAD_KEYS} of them.`,
  fields: (t) => ({
    revokedCount: t.int({ resolve: (p) => p.apiKeys.length }),
    apiKeys: t.field({
      type: [ApiKeyRef],
      extensions: { listSize: MAX_PAYLOAD_KEYS },
      resolve: (p) => p.apiKeys.slice(0, MAX_PAYLOAD_KEYS),
    }),
  }),
});

builder.queryField('teamApiKeys', (t) =>
  t.withAuth(rules.enterpriseAdmin).field({
    type: ApiKeyConnectionRef,
    args: {
      filter: t.arg({ type: TeamApiKeyFilter }),
      orderBy: t.arg({ type: ApiKeyOrderEnum, defaultValue: 'NEWEST' }),
      ...connectionArgs(t),
    },
    resolve: (_root, args, ctx, info) =>
      ctx.services.teamKeys.page(
        ctx.principal,
        args,
        // The nodes' relations (creator, revoker) come in the page's own query, not one lookup per
        // node; and only the columns the operation asks of the keys and their members.
        selectAskedKeyColumns(info, ['edges', 'node'], queryFromInfo({ context: ctx, info, path: ['edges', 'node'] })),
      ),
  }),
);

builder.mutationFields((t) => ({
  revokeApiKeys: t.withAuth(rules.enterpriseAdmin).field({
    type: RevokeApiKeysPayloadRef,
    description: 'Revokes the selected personal keys of the team (REVOKED_BY_ADMIN): all or nothing.',
    args: { ids: t.arg.idList({ required: true }) },
    resolve: async (_root, { ids }, ctx) => ({
      apiKeys: await ctx.services.teamKeyAdmin.revokeSelected(ctx.principal, ids, auditActorOf(ctx)),
    }),
  }),
  revokeAllApiKeys: t.withAuth(rules.enterpriseAdmin).field({
    type: RevokeApiKeysPayloadRef,
    description: 'Revokes every ENABLED or DISABLED personal key of the team except the one making this request.',
    resolve: async (_root, _args, ctx) => ({ apiKeys: await ctx.services.teamKeyAdmin.revokeAll(ctx.principal, auditActorOf(ctx)) }),
  }),
}));
