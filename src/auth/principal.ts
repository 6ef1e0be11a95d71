import type { KeyKind, Plan, TeamRole } from '../generated/prisma/enums.js';

/** Who is calling: the key that authenticated the request and what it stands for. */
export interface Principal {
  keyId: string;
  keyKind: KeyKind;
  keyHash: string;
  teamId: string;
  plan: Plan;
  /** The key's owner (for a collection access key: its creator, who is not the caller). */
  userId: string;
  role: TeamRole;
  collectionId: string | null;
}

export const isAdminRole = (role: TeamRole) => role === 'TEAM_ADMIN' || role === 'SUPER_ADMIN';
