import type { ApiKey, Team, User } from '../generated/prisma/client.js';
import type { KeyKind, Plan, TeamRole } from '../generated/prisma/enums.js';

/**
 * Who is calling: the key that authenticated the request and what it stands for. It lives in the
 * verification cache (auth/authenticator.ts) with the rows `viewer` shows, so that `viewer` costs
 * no database read; every change to them drops the entry (keys/change-feed.ts).
 */
export interface Principal {
  keyId: string;
  keyKind: KeyKind;
  /** the hash of the secret that authenticated (a key's current one, or its previous one in an overlap) */
  keyHash: string;
  /** set when that secret is the key's previous one (SPEC §5): the end of its overlap */
  previousUntil?: Date | null;
  teamId: string;
  plan: Plan;
  /** The key's owner (for a collection access key: its creator, who is not the caller). */
  userId: string;
  role: TeamRole;
  collectionId: string | null;
  /** The key's owner or creator, as read with the key (viewer.user for a personal key). */
  user: User;
  team: Team;
  /**
   * The key's own row (viewer.apiKey / viewer.accessKey). Its lastUsedAt is advanced in memory as
   * the key is used here (it would otherwise lag by the cache's life on top of SPEC §4's 10 s).
   */
  key: ApiKey;
}

export const isAdminRole = (role: TeamRole) => role === 'TEAM_ADMIN' || role === 'SUPER_ADMIN';
