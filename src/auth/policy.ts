// Who may do what, as a table of scopes (Pothos scope-auth evaluates them on each field).
// Root fields require `personalKey` by default (graphql/builder.ts); a field states the extra
// scopes it needs, or opts out with skipTypeScopes and states its own.
import { type DomainError, forbidden, planRequired } from '../domain/errors.js';
import { isAdminRole, type Principal } from './principal.js';

export type AccessScope = 'anyKey' | 'personalKey' | 'seesMembers' | 'admin' | 'superAdmin' | 'enterprise';

export function accessScopes(p: Principal | null): Record<AccessScope, boolean> {
  const personal = p?.keyKind === 'PERSONAL';
  return {
    anyKey: p !== null,
    personalKey: personal,
    // Team members (User) and their personal keys (ApiKey), on whatever path a query reaches them:
    // a personal key sees them; a read-only collection access key never does (SPEC §4). Without a
    // key only acceptInvitation runs, and it answers with the new member's own key.
    seesMembers: p === null || personal,
    admin: personal && isAdminRole(p.role),
    superAdmin: personal && p.role === 'SUPER_ADMIN',
    enterprise: p?.plan === 'ENTERPRISE',
  };
}

/**
 * What a result computed for `p` may depend on, as a string: principals with the same one pass and
 * fail every field rule alike (scope-auth asks nothing but accessScopes) and read the same team's
 * rows. Subscriptions share one execution per event among them (realtime/shared-execution.ts), so
 * a scope added above is taken into account there too. Row rules that look at the user
 * (keyActionRules, assertCollection*) belong to mutations, never below a subscription's root.
 */
export function visibilityOf(p: Principal): string {
  return JSON.stringify([p.teamId, accessScopes(p)]);
}

/** The refusal for the first scope a rule failed on: role problems before plan problems. */
export function scopeRefusal(scope: AccessScope | null, p: Principal | null): DomainError {
  switch (scope) {
    case 'personalKey':
      return forbidden(
        p?.keyKind === 'COLLECTION_ACCESS'
          ? 'This is a read-only collection access key: it may read only viewer, usage and its own collection'
          : 'This operation needs a personal API key',
      );
    case 'seesMembers':
      return forbidden('A read-only collection access key does not see team members or their keys');
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
  /** a personal key (every root field's default, stated again where a field needs the principal) */
  personalKey: { personalKey: true },
  /** team members and their personal keys: not a collection access key (type rule of User, ApiKey) */
  seesMembers: { seesMembers: true },
  admin: { admin: true },
  enterpriseAdmin: { $all: { admin: true, enterprise: true } },
} as const;

/**
 * Row-level rules for personal keys (SPEC §4): what the owner and what an admin of the same team
 * may do to a key. A member never sees another member's key (NOT_FOUND, decided by visibility);
 * an admin sees every key of the team, so an action an admin may not take is FORBIDDEN.
 */
export type KeyAction = 'read' | 'rename' | 'regenerate' | 'delete' | 'setExpiry' | 'setEnabled';
type AdminRight = 'allowed' | 'enterprise' | 'forbidden';

export const keyActionRules: Record<KeyAction, { owner: boolean; admin: AdminRight }> = {
  read: { owner: true, admin: 'allowed' },
  rename: { owner: true, admin: 'forbidden' },
  regenerate: { owner: true, admin: 'forbidden' },
  delete: { owner: true, admin: 'forbidden' },
  setExpiry: { owner: true, admin: 'forbidden' },
  setEnabled: { owner: true, admin: 'enterprise' },
};

const ACTION_WORDS: Record<KeyAction, string> = {
  read: 'read',
  rename: 'rename',
  regenerate: 'regenerate',
  delete: 'delete',
  setExpiry: 'change the expiry of',
  setEnabled: 'enable or disable',
};

/** Throws FORBIDDEN or PLAN_REQUIRED when the principal may see the key but not do this to it. */
export function assertKeyAction(p: Principal, key: { createdById: string }, action: KeyAction): void {
  const rule = keyActionRules[action];
  if (key.createdById === p.userId && rule.owner) return;
  const admin = isAdminRole(p.role);
  if (!admin || rule.admin === 'forbidden') {
    throw forbidden(
      key.createdById === p.userId ? `You may not ${ACTION_WORDS[action]} this key` : `Only the key's owner may ${ACTION_WORDS[action]} it`,
    );
  }
  if (rule.admin === 'enterprise' && p.plan !== 'ENTERPRISE') {
    throw planRequired('ENTERPRISE', `Managing other members' keys`);
  }
}

/** A collection access key may be revoked by its creator or a team admin (any plan). */
export function assertCollectionKeyRevoke(p: Principal, key: { createdById: string }): void {
  if (key.createdById !== p.userId && !isAdminRole(p.role)) {
    throw forbidden("Only the key's creator or a team admin may revoke a collection access key");
  }
}

/** A collection is deleted (and its access keys revoked) by its creator or a team admin (SPEC §5). */
export function assertCollectionDelete(p: Principal, collection: { createdById: string }): void {
  if (collection.createdById !== p.userId && !isAdminRole(p.role)) {
    throw forbidden("Only the collection's creator or a team admin may delete it");
  }
}
