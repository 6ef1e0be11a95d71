// The ScimApiKey type and its root fields (SPEC §5): ENTERPRISE admins manage the team's SCIM
// keys in the team settings; a kps_ key itself authenticates /scim/v2 only (scim/gate.ts).
import { auditActorOf } from '../audit/actor.js';
import { rules } from '../auth/policy.js';
import type { ApiKey } from '../generated/prisma/client.js';
import { builder } from '../graphql/builder.js';
import { listArgs } from '../graphql/list-args.js';
import { KeyRecordRef } from '../keys/api-key.js';
import { selectAskedKeyColumns } from '../keys/key-selection.js';
import { runningOverlap } from '../keys/rotation.js';
import { effectiveLifecycle } from '../keys/status.js';

/** An ApiKey row of kind SCIM: ENABLED or REVOKED, never DISABLED, no expiry. */
export const ScimApiKeyRef = builder.prismaObject('ApiKey', {
  variant: 'ScimApiKey',
  interfaces: [KeyRecordRef],
  description: "A SCIM API key (kps_…): the team's identity provider authenticates /scim/v2 with it, and nothing else.",
  fields: (t) => ({
    name: t.exposeString('name'),
    previousSecretExpiresAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'After a regeneration with keepPreviousForHours: until when the previous secret still works. null when none runs.',
      resolve: (k) => runningOverlap(k.previousSecretExpiresAt, effectiveLifecycle(k).status),
    }),
  }),
});

const GeneratedScimApiKeyRef = builder.objectRef<{ scimApiKey: ApiKey; secret: string }>('GeneratedScimApiKey').implement({
  description: 'A new SCIM key or secret. The secret is shown in this response only: it is never stored.',
  fields: (t) => ({
    scimApiKey: t.field({ type: ScimApiKeyRef, resolve: (g) => g.scimApiKey }),
    secret: t.exposeString('secret'),
  }),
});

builder.queryField('scimApiKeys', (t) =>
  t.withAuth(rules.enterpriseAdmin).prismaField({
    type: [ScimApiKeyRef],
    description:
      "The team's SCIM API keys (admins, ENTERPRISE), revoked ones included, newest first; `after` is the last id of the previous page.",
    args: listArgs(t),
    resolve: (query, _root, args, ctx, info) => ctx.services.scimKeys.list(ctx.principal, args, selectAskedKeyColumns(info, [], query)),
  }),
);

builder.mutationFields((t) => ({
  generateScimApiKey: t.withAuth(rules.enterpriseAdmin).field({
    type: GeneratedScimApiKeyRef,
    description: 'Admins, ENTERPRISE. A new kps_ key for the identity provider; the secret is shown once.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, { name }, ctx) => ctx.services.scimKeys.generate(ctx.principal, name, auditActorOf(ctx)),
  }),
  regenerateScimApiKey: t.withAuth(rules.enterpriseAdmin).field({
    type: GeneratedScimApiKeyRef,
    description:
      'Same id and name, new secret. The previous secret keeps working keepPreviousForHours more (0..168; 0 = it fails at once): see ScimApiKey.previousSecretExpiresAt.',
    args: { id: t.arg.id({ required: true }), keepPreviousForHours: t.arg.int({ defaultValue: 0 }) },
    resolve: (_root, { id, keepPreviousForHours }, ctx) =>
      ctx.services.scimKeys.regenerate(ctx.principal, id, keepPreviousForHours ?? 0, auditActorOf(ctx)),
  }),
  revokeScimApiKey: t.withAuth(rules.enterpriseAdmin).field({
    type: ScimApiKeyRef,
    description: 'Admins, ENTERPRISE. Both secrets fail at once (reason REVOKED_BY_ADMIN); irreversible.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => ctx.services.scimKeys.revoke(ctx.principal, id, auditActorOf(ctx)),
  }),
}));
