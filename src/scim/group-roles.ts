// What a SCIM group means in Keyplane: a group whose displayName is ADMIN_GROUP_NAME (compared
// case-insensitively) grants TEAM_ADMIN to its members; leaving it (removed, the group renamed or
// deleted) makes them MEMBER again unless another admin group still holds them. Nothing else
// carries a role; no group grants SUPER_ADMIN, and a SUPER_ADMIN's role is never touched. The
// change of the User row reaches every instance's verification cache (caller_change_notify), so the
// new role authorizes (or stops authorizing) the member's keys at once.
import type { AuditActor } from '../audit/actor.js';
import { recordAudit } from '../audit/record.js';
import type { Prisma } from '../generated/prisma/client.js';

export const ADMIN_GROUP_NAME = 'Keyplane Admins';

export const isAdminGroup = (displayName: string) => displayName.toLowerCase() === ADMIN_GROUP_NAME.toLowerCase();

/**
 * In the group change's transaction, after its memberships are written: the role of each member
 * whose admin-group membership may have changed made to match it, one member.updated event each.
 * Answers the ids of the members whose role changed.
 */
export async function reconcileGroupRoles(
  tx: Prisma.TransactionClient,
  actor: AuditActor,
  teamId: string,
  userIds: Iterable<string>,
): Promise<string[]> {
  const ids = [...new Set(userIds)];
  if (ids.length === 0) return [];
  const users = await tx.user.findMany({
    where: { id: { in: ids }, teamId, role: { not: 'SUPER_ADMIN' } },
    select: { id: true, email: true, role: true },
  });
  const held = await tx.$queryRaw<{ userId: string }[]>`
    SELECT DISTINCT m."userId" FROM "ScimGroupMember" m JOIN "ScimGroup" g ON g."id" = m."groupId"
     WHERE g."teamId" = ${teamId} AND lower(g."displayName") = ${ADMIN_GROUP_NAME.toLowerCase()} AND m."userId" = ANY(${ids})`;
  const admins = new Set(held.map((h) => h.userId));
  const changed: string[] = [];
  for (const user of users) {
    const role = admins.has(user.id) ? 'TEAM_ADMIN' : 'MEMBER';
    if (user.role === role) continue;
    await tx.user.update({ where: { id: user.id }, data: { role } });
    changed.push(user.id);
    await recordAudit(tx, actor, [
      {
        teamId,
        action: 'member.updated',
        targetType: 'user',
        targetId: user.id,
        summary: `Updated ${user.email}: role ${user.role} → ${role} (SCIM group ${JSON.stringify(ADMIN_GROUP_NAME)})`,
      },
    ]);
  }
  return changed;
}
