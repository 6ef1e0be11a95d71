// The one SchemaBuilder: plugins, scalars, the context type and the auth scopes.
import SchemaBuilder from '@pothos/core';
import PrismaPlugin from '@pothos/plugin-prisma';
import ScopeAuthPlugin, { type AuthFailure, AuthScopeFailureType } from '@pothos/plugin-scope-auth';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import { type AccessScope, accessScopes, scopeRefusal } from '../auth/policy.js';
import type { Principal } from '../auth/principal.js';
import type PrismaTypes from '../generated/pothos-types.js';
import { getDatamodel } from '../generated/pothos-types.js';
import type { RateState } from '../ratelimit/key-limiter.js';
import type { QuotaState } from '../ratelimit/quota.js';
import type { Services } from '../services.js';
import { inputGuardPlugin } from './input-guard.js';

export interface Context {
  /** null only for operations that need no key (acceptInvitation, introspection). */
  principal: Principal | null;
  services: Services;
  /** the client's address, for the brute-force limit */
  clientAddress: string;
  /** the HTTP request (absent over graphql-ws) */
  request?: Request;
  /** this operation's rate-limit window and monthly quota, once admitted */
  rate?: RateState;
  quota?: QuotaState;
}

/** The context of every field that sits behind a key. */
export interface AuthenticatedContext extends Context {
  principal: Principal;
}

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  AuthScopes: Record<AccessScope, boolean>;
  // Every scope but seesMembers needs a key: a field behind one (t.withAuth) sees a non-null principal.
  AuthContexts: Record<Exclude<AccessScope, 'seesMembers'>, AuthenticatedContext> & { seesMembers: Context };
  DefaultFieldNullability: false;
  Scalars: {
    // graphql-js hands ID arguments to resolvers as strings (an int literal is converted).
    ID: { Input: string; Output: string };
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
  };
}>({
  // Order matters: scope-auth's checks wrap everything after it (role and plan before input).
  plugins: [ScopeAuthPlugin, inputGuardPlugin, PrismaPlugin],
  defaultFieldNullability: false,
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
