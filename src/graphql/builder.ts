// The one SchemaBuilder: plugins, scalars and the auth scopes (the context's type: context.ts).
import SchemaBuilder from '@pothos/core';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin, { type AuthFailure, AuthScopeFailureType } from '@pothos/plugin-scope-auth';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import { type AccessScope, accessScopes, scopeRefusal } from '../auth/policy.js';
import type PrismaTypes from '../generated/pothos-types.js';
import { getDatamodel } from '../generated/pothos-types.js';
import type { AuthenticatedContext, Context } from './context.js';
import { inputGuardPlugin } from './input-guard.js';

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  AuthScopes: Record<AccessScope, boolean>;
  // Every scope but seesMembers needs a key: a field behind one (t.withAuth) sees a non-null principal.
  AuthContexts: Record<Exclude<AccessScope, 'seesMembers'>, AuthenticatedContext> & { seesMembers: Context };
  DefaultFieldNullability: false;
  DefaultEdgesNullability: { list: false; items: false };
  DefaultNodeNullability: false;
  Scalars: {
    // graphql-js hands ID arguments to resolvers as strings (an int literal is converted).
    ID: { Input: string; Output: string };
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
  };
}>({
  // Order matters: scope-auth's checks wrap everything after it (role and plan before input).
  plugins: [ScopeAuthPlugin, inputGuardPlugin, RelayPlugin, PrismaPlugin],
  defaultFieldNullability: false,
  // Connections only (graphql/connection.ts): no Node interface, no global ids (ids keep their values).
  relay: {
    cursorType: 'String',
    edgesFieldOptions: { nullable: { list: false, items: false } },
    nodeFieldOptions: { nullable: false },
    nodeQueryOptions: false,
    nodesQueryOptions: false,
    clientMutationId: 'omit',
  },
  prisma: {
    client: (ctx) => ctx.services.prisma,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
    onUnusedQuery: null,
  },
  scopeAuth: {
    // A subscription is refused when it starts (not answered with an error per event).
    authorizeOnSubscribe: true,
    authScopes: (ctx) => accessScopes(ctx.principal),
    // Role before plan (SPEC §4): the first failing scope of a rule decides the error.
    unauthorizedError: (_parent, ctx, _info, result) => scopeRefusal(firstFailedScope(result.failure), ctx.principal),
  },
});

function firstFailedScope(failure: AuthFailure): AccessScope | null {
  if (failure.kind === AuthScopeFailureType.AuthScope) return failure.scope as AccessScope;
  if (failure.kind === AuthScopeFailureType.AllAuthScopes || failure.kind === AuthScopeFailureType.AnyAuthScopes) {
    for (const inner of failure.failures) {
      const scope = firstFailedScope(inner);
      if (scope) return scope;
    }
  }
  return null;
}

builder.addScalarType('DateTime', DateTimeResolver);
builder.addScalarType('JSON', JSONResolver);

// Every root field needs a personal key unless it says otherwise (skipTypeScopes): the rules
// for other kinds of key are added field by field, in auth/policy.ts's vocabulary.
builder.queryType({ authScopes: { personalKey: true } });
builder.mutationType({ authScopes: { personalKey: true } });
builder.subscriptionType({ authScopes: { personalKey: true } });
