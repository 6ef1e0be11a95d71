// The ApiKeyExposure type, exposedApiKeys and reportExposedApiKeys (admins, ENTERPRISE).
import { auditActorOf } from '../audit/actor.js';
import { rules } from '../auth/policy.js';
import { CollectionAccessKeyRef } from '../collections/access-key.js';
import { builder } from '../graphql/builder.js';
import { listArgs } from '../graphql/list-args.js';
import { ApiKeyRef } from '../keys/api-key.js';
import { ScimApiKeyRef } from '../scim/scim-api-key.js';

const ApiKeyExposureRef = builder.prismaObject('ApiKeyExposure', {
  description: 'A key found where it should not be. Exactly one of apiKey, accessKey and scimApiKey is set.',
  fields: (t) => ({
    id: t.exposeID('id'),
    apiKey: t.field({
      type: ApiKeyRef,
      nullable: true,
      select: (_args, _ctx, nestedSelection) => ({ key: nestedSelection(true) }),
      resolve: (e) => (e.key.kind === 'PERSONAL' ? e.key : null),
    }),
    accessKey: t.field({
      type: CollectionAccessKeyRef,
      nullable: true,
      select: (_args, _ctx, nestedSelection) => ({ key: nestedSelection(true) }),
      resolve: (e) => (e.key.kind === 'COLLECTION_ACCESS' ? e.key : null),
    }),
    scimApiKey: t.field({
      type: ScimApiKeyRef,
      nullable: true,
      select: (_args, _ctx, nestedSelection) => ({ key: nestedSelection(true) }),
      resolve: (e) => (e.key.kind === 'SCIM' ? e.key : null),
    }),
    detectedAt: t.expose('detectedAt', { type: 'DateTime' }),
    location: t.exposeString('location'),
    source: t.exposeString('source', { description: 'who found it: github, api (reportExposedApiKeys), …' }),
    resolved: t.boolean({ description: 'its key has been revoked (or its secret regenerated)', resolve: (e) => e.resolvedAt !== null }),
    resolvedAt: t.expose('resolvedAt', { type: 'DateTime', nullable: true }),
    ignored: t.boolean({
      description: 'an admin chose to leave its key live when turning auto revoke on',
      resolve: (e) => e.ignoredAt !== null,
    }),
  }),
});

builder.queryField('exposedApiKeys', (t) =>
  t.withAuth(rules.enterpriseAdmin).prismaField({
    type: [ApiKeyExposureRef],
    description:
      "The team's exposed keys, newest first (unresolved ones unless includeResolved); `after` is the last id of the previous page.",
    args: { includeResolved: t.arg.boolean({ defaultValue: false }), ...listArgs(t) },
    resolve: (query, _root, { includeResolved, ...page }, ctx) =>
      ctx.services.scanner.list(ctx.principal, includeResolved ?? false, page, query),
  }),
);

builder.mutationField('reportExposedApiKeys', (t) =>
  t.withAuth(rules.enterpriseAdmin).prismaField({
    type: [ApiKeyExposureRef],
    description:
      "Scanner intake: the team's keys found in `text` (at most 1 MB; checksums checked offline) are recorded as exposed at `location`; with auto revoke on they are revoked at once. Lists at most 1,000 exposures, newest first.",
    // Priced as a page (a report finds a few keys; the answer is capped at MAX_LISTED anyway): at
    // 1,000 a full selection cost 57,000 and every such report was refused before it ran.
    extensions: { listSize: 50 },
    args: { text: t.arg.string({ required: true }), location: t.arg.string({ required: true }) },
    resolve: (query, _root, { text, location }, ctx) =>
      ctx.services.scanner.reportText(ctx.principal, text, location, query, auditActorOf(ctx)),
  }),
);
