// Webhook events in two steps, so that a change never waits for its webhooks:
// 1. enqueueWebhookEvents, in the transaction of the change that caused them (a transactional
//    outbox: nothing is lost when the process dies after commit; a change rolled back sends
//    nothing): one narrow WebhookOutbox row per team and type, listing what changed, and only
//    when an enabled endpoint of the team subscribes to the type (else one indexed read, no write).
//    A bulk revocation of 10,000 keys adds one row to its transaction.
// 2. renderPendingEvents, after commit (the dispatcher's pass, any instance): one event per key or
//    member (a receiver acts per key), its body rendered once from the row as it then is, and a
//    PENDING delivery per subscribed endpoint; a bounded batch per transaction, claimed with
//    SKIP LOCKED, the batch removed from the outbox in the same transaction (rendered once).
// Every attempt to every endpoint then sends the same bytes under the same `webhook-id`.
import { randomUUID } from 'node:crypto';
import type { AuditActor } from '../audit/actor.js';
import type { Prisma, PrismaClient } from '../generated/prisma/client.js';
import { displayHint } from '../keys/format.js';
import { effectiveLifecycle } from '../keys/status.js';
import type { KeyEventType, SubscribableEventType, WebhookEventType } from './event-types.js';

export type WebhookEventSource =
  | { type: KeyEventType; teamId: string; keyId: string; reason?: string | null }
  | { type: 'member.deprovisioned'; teamId: string; userId: string; reason?: string | null };

/** `data.actor`: who caused the event (the audit actor, named). */
export interface WebhookActor {
  type: AuditActor['type'];
  id: string | null;
  name: string;
}

const ACTOR_NAMES: Record<AuditActor['type'], string> = {
  USER: 'member',
  SCIM: 'identity provider',
  SYSTEM: 'Keyplane',
  SCANNER: 'secret scanner',
};

/** `data.actor` of an event: the acting member by name, or what acted (the identity provider's key, a job, a scanner). */
export async function webhookActor(
  db: Prisma.TransactionClient,
  actor: Pick<AuditActor, 'type' | 'userId' | 'keyHint'>,
): Promise<WebhookActor> {
  const user = actor.userId ? await db.user.findUnique({ where: { id: actor.userId }, select: { name: true } }) : null;
  return {
    type: actor.type,
    id: actor.userId,
    name: user?.name ?? (actor.keyHint && actor.type === 'SCIM' ? `SCIM key ${actor.keyHint}` : ACTOR_NAMES[actor.type]),
  };
}

/** Events rendered per transaction (a 10,000-key revocation: ten short transactions). */
export const RENDER_BATCH = 1_000;

/** A webhook-id: unique per event, the same on every attempt (Standard Webhooks). */
export const newEventId = () => `msg_${randomUUID().replaceAll('-', '')}`;

/**
 * Step 1, in `db`'s transaction: notes the events of `sources` for the team's subscribed
 * endpoints. Returns how many events it noted.
 */
export async function enqueueWebhookEvents(
  db: Prisma.TransactionClient,
  actor: AuditActor,
  sources: readonly WebhookEventSource[],
  at = new Date(),
): Promise<number> {
  if (sources.length === 0) return 0;
  const teamIds = [...new Set(sources.map((s) => s.teamId))];
  const types = [...new Set(sources.map((s) => s.type))];
  const endpoints = await db.$queryRawUnsafe<{ teamId: string; eventTypes: string[] }[]>(
    `SELECT "teamId", "eventTypes" FROM "WebhookEndpoint"
      WHERE "teamId" = ANY($1::text[]) AND "enabled" AND "eventTypes" && $2::text[]`,
    teamIds,
    types,
  );
  if (endpoints.length === 0) return 0;
  const subscribed = new Set(endpoints.flatMap((e) => e.eventTypes.map((type) => `${e.teamId} ${type}`)));
  const groups = new Map<string, { teamId: string; type: SubscribableEventType; reason: string | null; targetIds: string[] }>();
  for (const source of sources) {
    if (!subscribed.has(`${source.teamId} ${source.type}`)) continue;
    const reason = source.reason ?? null;
    const group = `${source.teamId} ${source.type} ${reason}`;
    if (!groups.has(group)) groups.set(group, { teamId: source.teamId, type: source.type, reason, targetIds: [] });
    groups.get(group)!.targetIds.push('keyId' in source ? source.keyId : source.userId);
  }
  const rows = [...groups.values()];
  if (rows.length === 0) return 0;
  // One row per group; the ids are an array literal per row (json: unnest cannot nest arrays).
  await db.$executeRawUnsafe(
    `INSERT INTO "WebhookOutbox" ("id", "teamId", "type", "at", "actorType", "actorId", "actorKeyHint", "reason", "targetIds")
     SELECT gen_random_uuid()::text, r."teamId", r.type, $1::timestamptz, $2::"AuditActorType", $3, $4, r.reason,
            ARRAY(SELECT json_array_elements_text(r.targets))
       FROM json_to_recordset($5::json) AS r("teamId" text, type text, reason text, targets json)`,
    at,
    actor.type,
    actor.userId,
    actor.keyHint,
    JSON.stringify(rows.map((r) => ({ teamId: r.teamId, type: r.type, reason: r.reason, targets: r.targetIds }))),
  );
  return rows.reduce((n, r) => n + r.targetIds.length, 0);
}

interface OutboxRow {
  id: string;
  teamId: string;
  type: SubscribableEventType;
  at: Date;
  actorType: AuditActor['type'];
  actorId: string | null;
  actorKeyHint: string | null;
  reason: string | null;
  targetIds: string[];
}

/**
 * Step 2, after commit: renders up to `batch` noted events into events and deliveries, in one
 * transaction per outbox row claimed (SKIP LOCKED: instances render different rows). Returns how
 * many events it rendered (0: nothing was waiting).
 */
export async function renderPendingEvents(prisma: PrismaClient, batch = RENDER_BATCH): Promise<number> {
  return prisma.$transaction(async (tx) => {
    const [row] = await tx.$queryRawUnsafe<OutboxRow[]>(`SELECT * FROM "WebhookOutbox" ORDER BY "at", "id" LIMIT 1 FOR UPDATE SKIP LOCKED`);
    if (!row) return 0;
    const rendering = row.targetIds.slice(0, batch);
    const rest = row.targetIds.slice(batch);
    if (rest.length) await tx.$executeRawUnsafe(`UPDATE "WebhookOutbox" SET "targetIds" = $2::text[] WHERE "id" = $1`, row.id, rest);
    else await tx.$executeRawUnsafe(`DELETE FROM "WebhookOutbox" WHERE "id" = $1`, row.id);
    await insertEvents(tx, await renderEvents(tx, row, rendering), row.at);
    // At least one event per row (a row whose targets all vanished renders none): never 0 while rows wait.
    return Math.max(rendering.length, 1);
  });
}

/** The events of an outbox row's `targetIds` (keys or members deleted since are skipped). */
async function renderEvents(tx: Prisma.TransactionClient, row: OutboxRow, targetIds: string[]) {
  const who = await webhookActor(tx, { type: row.actorType, userId: row.actorId, keyHint: row.actorKeyHint });
  const events: { id: string; teamId: string; type: WebhookEventType; body: string }[] = [];
  const push = (data: unknown) =>
    events.push({ id: newEventId(), teamId: row.teamId, type: row.type, body: webhookBody(row.type, row.at, data) });
  if (row.type === 'member.deprovisioned') {
    const members = await tx.user.findMany({
      where: { id: { in: targetIds }, teamId: row.teamId },
      select: { id: true, name: true, email: true, externalId: true, active: true, deletedAt: true },
    });
    for (const m of members) {
      push({
        member: { id: m.id, name: m.name, email: m.email, externalId: m.externalId, active: m.active, deleted: m.deletedAt !== null },
        reason: row.reason,
        actor: who,
      });
    }
    return events;
  }
  const keys = await tx.apiKey.findMany({
    where: { id: { in: targetIds }, teamId: row.teamId },
    select: {
      id: true,
      kind: true,
      name: true,
      hint: true,
      status: true,
      expiresAt: true,
      revokedAt: true,
      revocationReason: true,
      createdBy: { select: { id: true, name: true, email: true } },
    },
  });
  for (const key of keys) {
    const state = effectiveLifecycle(key, row.at.getTime());
    push({
      apiKey: {
        id: key.id,
        kind: key.kind,
        name: key.name,
        hint: displayHint(key.kind, key.hint),
        status: state.status,
        expiresAt: key.expiresAt?.toISOString() ?? null,
        owner: key.createdBy,
      },
      reason: row.reason ?? (row.type === 'api_key.revoked' ? (state.revocationReason ?? null) : null),
      actor: who,
    });
  }
  return events;
}

/** `{"type", "timestamp", "data"}` (SPEC §5), the bytes that are signed and sent. */
export function webhookBody(type: WebhookEventType, at: Date, data: unknown): string {
  return JSON.stringify({ type, timestamp: at.toISOString(), data });
}

/**
 * Writes events and one PENDING delivery per endpoint of the team subscribed to each (or, with
 * `endpointId`, to that endpoint only: webhook.test), in one statement.
 */
export async function insertEvents(
  db: Prisma.TransactionClient,
  events: readonly { id: string; teamId: string; type: WebhookEventType; body: string }[],
  at: Date,
  endpointId: string | null = null,
): Promise<number> {
  if (events.length === 0) return 0;
  return db.$executeRawUnsafe(
    `WITH e AS (
       INSERT INTO "WebhookEvent" ("id", "teamId", "type", "body", "createdAt")
       SELECT e.id, e."teamId", e.type, e.body, $5::timestamptz
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS e(id, "teamId", type, body)
       RETURNING "id", "teamId", "type")
     INSERT INTO "WebhookDelivery" ("id", "eventId", "endpointId", "teamId", "nextAttemptAt", "createdAt")
     SELECT gen_random_uuid()::text, e.id, ep.id, e."teamId", $5::timestamptz, $5::timestamptz
       FROM e JOIN "WebhookEndpoint" ep ON ep."teamId" = e."teamId"
      WHERE ($6::text IS NULL AND ep."enabled" AND e.type = ANY(ep."eventTypes")) OR ep.id = $6::text`,
    events.map((e) => e.id),
    events.map((e) => e.teamId),
    events.map((e) => e.type),
    events.map((e) => e.body),
    at,
    endpointId,
  );
}

/** Delivered or failed events are kept this long for webhookDeliveries, then purged. */
export const WEBHOOK_EVENT_RETENTION_DAYS = 30;

/**
 * Purges events older than the retention period with their deliveries (cascade), a batch per
 * statement; an event with a delivery still PENDING stays. Returns how many events it purged.
 */
export async function purgeOldWebhookEvents(prisma: PrismaClient, now = new Date(), batch = 5_000): Promise<number> {
  const cutoff = new Date(now.getTime() - WEBHOOK_EVENT_RETENTION_DAYS * 86_400_000);
  let total = 0;
  for (;;) {
    const deleted = await prisma.$executeRawUnsafe(
      `DELETE FROM "WebhookEvent" WHERE "id" IN (
         SELECT e."id" FROM "WebhookEvent" e
          WHERE e."createdAt" < $1::timestamptz
            AND NOT EXISTS (SELECT 1 FROM "WebhookDelivery" d WHERE d."eventId" = e."id" AND d."status" = 'PENDING')
          ORDER BY e."createdAt" LIMIT $2)`,
      cutoff,
      batch,
    );
    total += deleted;
    if (deleted < batch) return total;
  }
}
