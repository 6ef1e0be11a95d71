// Inside the revocation's own transaction: one in-app notification per revoked key for its owner,
// and one outbox email per owner (a transactional outbox: nothing is lost if the process dies
// between the commit and the send). Batched: a revocation of 10,000 keys is a handful of statements.
import { randomUUID } from 'node:crypto';
import type { ApiKey, Prisma, PrismaClient } from '../generated/prisma/client.js';
import { type NoticeKey, type NoticePerson, revocationEmail, revocationMessage } from './messages.js';

type Db = PrismaClient | Prisma.TransactionClient;

export const API_KEY_REVOKED = 'API_KEY_REVOKED';

/** What the notices need of a revoked key (both revocation statements return these columns). */
export type RevokedKey = Pick<
  ApiKey,
  | 'id'
  | 'teamId'
  | 'kind'
  | 'name'
  | 'hint'
  | 'hash'
  | 'createdById'
  | 'collectionId'
  | 'expiresAt'
  | 'revokedAt'
  | 'revocationReason'
  | 'revokedById'
>;

/** A notification written for a revocation, to announce after commit. */
export interface WrittenNotification {
  id: string;
  userId: string;
}

export async function writeRevocationNotices(
  db: Db,
  keys: RevokedKey[],
): Promise<{ notifications: WrittenNotification[]; emailIds: string[] }> {
  if (keys.length === 0) return { notifications: [], emailIds: [] };
  const userIds = new Set<string>();
  const collectionIds = new Set<string>();
  for (const key of keys) {
    userIds.add(key.createdById);
    if (key.revokedById) userIds.add(key.revokedById);
    if (key.collectionId) collectionIds.add(key.collectionId);
  }
  const [users, collections] = await Promise.all([
    db.user.findMany({ where: { id: { in: [...userIds] } }, select: { id: true, name: true, email: true } }),
    collectionIds.size ? db.collection.findMany({ where: { id: { in: [...collectionIds] } }, select: { id: true, name: true } }) : [],
  ]);
  const person = new Map<string, NoticePerson>(users.map((u) => [u.id, u]));
  const collectionName = new Map(collections.map((c) => [c.id, c.name]));

  const notifications: (WrittenNotification & { message: string; keyId: string })[] = [];
  // One email per owner and actor: a bulk revocation does not send a thousand emails to one person.
  const byOwner = new Map<string, { keys: NoticeKey[]; actorId: string | null }[]>();
  for (const key of keys) {
    const notice: NoticeKey = {
      kind: key.kind,
      name: key.name,
      hint: key.hint,
      revokedAt: key.revokedAt ?? new Date(),
      reason: key.revocationReason ?? 'REVOKED_BY_ADMIN',
      collectionName: key.collectionId ? collectionName.get(key.collectionId) : undefined,
    };
    const actor = key.revokedById ? (person.get(key.revokedById) ?? null) : null;
    const ownerIsActor = key.revokedById === key.createdById;
    notifications.push({
      id: randomUUID(),
      userId: key.createdById,
      keyId: key.id,
      message: revocationMessage(notice, actor, ownerIsActor),
    });
    const groups = byOwner.get(key.createdById) ?? [];
    let group = groups.find((g) => g.actorId === key.revokedById && g.keys[0]!.reason === notice.reason);
    if (!group) groups.push((group = { keys: [], actorId: key.revokedById }));
    group.keys.push(notice);
    byOwner.set(key.createdById, groups);
  }

  // unnest: one INSERT for any number of rows, with five array parameters.
  await db.$executeRawUnsafe(
    `INSERT INTO "Notification" ("id", "userId", "kind", "message", "keyId")
     SELECT id, "userId", $5, message, "keyId" FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS n(id, "userId", message, "keyId")`,
    notifications.map((n) => n.id),
    notifications.map((n) => n.userId),
    notifications.map((n) => n.message),
    notifications.map((n) => n.keyId),
    API_KEY_REVOKED,
  );

  const emails: Prisma.EmailOutboxCreateManyInput[] = [];
  for (const [ownerId, groups] of byOwner) {
    const owner = person.get(ownerId);
    if (!owner) continue;
    for (const group of groups) {
      const actor = group.actorId ? (person.get(group.actorId) ?? null) : null;
      emails.push({ id: randomUUID(), to: owner.email, ...revocationEmail(owner, group.keys, actor, group.actorId === ownerId) });
    }
  }
  await db.emailOutbox.createMany({ data: emails });
  return {
    notifications: notifications.map(({ id, userId }) => ({ id, userId })),
    emailIds: emails.map((e) => e.id!),
  };
}
