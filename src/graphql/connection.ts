// Connections come from @pothos/plugin-relay (configured in builder.ts: String cursors, non-null
// edges and nodes, the one PageInfo type, no Node interface). A connection field declares its own
// forward arguments here instead of t.connection's: GraphQL fills in `first`'s default whenever a
// client leaves it out, so the plugin's `last`/`before` could never be told apart from "first 50,
// then the last n of those"; the services answer with domain/cursor.ts's keysetPage.
//
//   const AuditEventConnection = builder.connectionObject({ type: AuditEventRef, name: 'AuditEventConnection' });
//   builder.queryField('auditEvents', (t) =>
//     t.withAuth(rules.enterpriseAdmin).field({
//       type: AuditEventConnection,
//       args: { filter: t.arg({ type: AuditEventFilter }), ...connectionArgs(t) },
//       resolve: (_root, args, ctx) => ctx.services.audit.page(ctx.principal, args),
//     }),
//   );
// Extra fields of a connection (totalCount…) go in connectionObject's `fields`; its first type
// argument is the node type, its second what the service adds to the page.
import type { ArgBuilder } from '@pothos/core';
import { DEFAULT_PAGE } from '../domain/input.js';
import type { builder } from './builder.js';

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

/** first (default 50, at most 500: domain/input.ts's pageSize) and after (an endCursor of the previous page). */
export function connectionArgs(t: { arg: ArgBuilder<Types> }) {
  return {
    first: t.arg.int({ defaultValue: DEFAULT_PAGE }),
    after: t.arg.string(),
  };
}
