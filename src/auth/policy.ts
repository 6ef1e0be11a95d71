// Who may do what, as a table of scopes (Pothos scope-auth evaluates them on each field).
// Root fields require `personalKey` by default (graphql/builder.ts); a field states the extra
// scopes it needs, or opts out with skipTypeScopes and states its own.
import type { GraphQLError } from 'graphql';
import { forbidden, planRequired } from '../graphql/errors.js';
import { isAdminRole, type Principal } from './principal.js';

export type AccessScope = 'anyKey' | 'personalKey' | 'admin' | 'superAdmin' | 'enterprise';

export function accessScopes(p: Principal | null): Record<AccessScope, boolean> {
  const personal = p?.keyKind === 'PERSONAL';
  return {
    anyKey: p !== null,
    personalKey: personal,
    admin: personal && isAdminRole(p.role),
    superAdmin: personal && p.role === 'SUPER_ADMIN',
    enterprise: p?.plan === 'ENTERPRISE',
  };
}

/** The refusal for the first scope a rule failed on: role problems before plan problems. */
export function scopeRefusal(scope: AccessScope | null, p: Principal | null): GraphQLError {
  switch (scope) {
    case 'personalKey':
      return forbidden(
        p?.keyKind === 'COLLECTION_ACCESS'
          ? 'This is a read-only collection access key: it may read only viewer, usage and its own collection'
          : 'This operation needs a personal API key',
      );
    case 'admin':
      return forbidden('Only a team admin (TEAM_ADMIN or SUPER_ADMIN) may do this');
    case 'superAdmin':
      return forbidden('Only a SUPER_ADMIN may do this');
    case 'enterprise':
      return planRequired('ENTERPRISE', 'Team API key management');
    default:
      return forbidden('Not allowed');
  }
}

/** Rules named once, used by the fields (the tests read like this table). */
export const rules = {
  /** any valid key of the team, including a collection access key */
  anyKey: { anyKey: true },
  admin: { admin: true },
  enterpriseAdmin: { $all: { admin: true, enterprise: true } },
} as const;
