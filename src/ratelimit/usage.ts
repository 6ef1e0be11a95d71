// `usage`: the key's rate-limit window and the team's monthly quota. The request that reads it is
// already counted: remaining equals this response's X-RateLimit-Remaining.
import { rules } from '../auth/policy.js';
import { builder } from '../graphql/builder.js';
import type { Usage } from '../graphql/context.js';

const UsageRef = builder.objectRef<Usage>('Usage').implement({
  fields: (t) => ({
    limit: t.int({ description: 'requests allowed per window', resolve: (u) => u.rate.limit }),
    remaining: t.int({ resolve: (u) => u.rate.remaining }),
    resetAt: t.field({ type: 'DateTime', resolve: (u) => u.rate.resetAt }),
    monthlyLimit: t.int({ resolve: (u) => u.quota.limit }),
    monthlyUsed: t.int({ resolve: (u) => u.quota.used }),
    monthlyResetAt: t.field({ type: 'DateTime', resolve: (u) => u.quota.resetAt }),
  }),
});

builder.queryField('usage', (t) =>
  t.withAuth(rules.anyKey).field({
    type: UsageRef,
    skipTypeScopes: true,
    resolve: (_root, _args, ctx) => ctx.usage,
  }),
);
