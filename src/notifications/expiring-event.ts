// The apiKeyExpiring subscription: the viewer hears of their own keys reaching an expiry
// reminder (the channel is per owner, so nobody hears of another member's keys).
import { rules } from '../auth/policy.js';
import { builder } from '../graphql/builder.js';
import { ApiKeyRef } from '../keys/api-key.js';
import type { ApiKeyExpiringPayload } from '../realtime/pubsub.js';

const ApiKeyExpiringEventRef = builder.objectRef<ApiKeyExpiringPayload>('ApiKeyExpiringEvent').implement({
  description: "A key of the viewer reached one of the team's expiry reminder thresholds.",
  fields: (t) => ({
    apiKey: t.prismaField({
      type: ApiKeyRef,
      resolve: (query, e, _args, ctx) => ctx.services.prisma.apiKey.findUniqueOrThrow({ ...query, where: { id: e.keyId } }),
    }),
    expiresAt: t.field({ type: 'DateTime', resolve: (e) => new Date(e.expiresAt) }),
    daysLeft: t.exposeInt('daysLeft', { description: 'Whole days left, rounded up.' }),
  }),
});

builder.subscriptionField('apiKeyExpiring', (t) =>
  t.withAuth(rules.personalKey).field({
    type: ApiKeyExpiringEventRef,
    description: "The viewer's keys.",
    subscribe: (_root, _args, ctx) => ctx.services.pubsub.subscribe('apiKeyExpiring', ctx.principal.userId),
    resolve: (e) => e,
  }),
);
