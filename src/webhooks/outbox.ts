// Enqueues webhook events in the transaction of the change that caused them (a transactional
// outbox: nothing is lost when the process dies after commit; a change rolled back sends nothing).
// The body is rendered here, once: every attempt to every endpoint sends the same bytes under the
// same `webhook-id`. A team without an endpoint subscribed to the type costs one indexed read.
//
// One event per key (a bulk revocation of 10,000 keys is 10,000 events), so that a receiver acts
// per key; they are written with their deliveries in one statement, and posted after commit by
// the dispatcher (src/webhooks/dispatcher.ts), never inside a request or a revocation.
import { randomUUID } from 'node:crypto';
import type { AuditActor } from '../audit/actor.js';
import type { Prisma } from '../generated/prisma/client.js';
import { displayHint } from '../keys/format.js';
import { effectiveLifecycle } from '../keys/status.js';
import type { KeyEventType, WebhookEventType } from './event-types.js';

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

/** A webhook-id: unique per event, the same on every attempt (Standard Webhooks). */
export const newEventId = () => `msg_${randomUUID().replaceAll('-', '')}`;

/**
 * Writes the events of `sources` for the endpoints subscribed to them, in `db`'s transaction.
 * Returns how many deliveries it enqueued.
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
  const wanted = sources.filter((s) => subscribed.has(`${s.teamId} ${s.type}`));
  if (wanted.length === 0) return 0;

  const keyIds = wanted.flatMap((s) => ('keyId' in s ? [s.keyId] : []));
  const userIds = wanted.flatMap((s) => ('userId' in s ? [s.userId] : []));
  const [keys, members, actorUser] = await Promise.all([
    keyIds.length
      ? db.apiKey.findMany({
          where: { id: { in: keyIds } },
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
        })
      : [],
    userIds.length
      ? db.user.findMany({
          where: { id: { in: userIds } },
          select: { id: true, name: true, email: true, externalId: true, active: true, deletedAt: true },
        })
      : [],
    actor.userId ? db.user.findUnique({ where: { id: actor.userId }, select: { name: true } }) : null,
  ]);
  const keyById = new Map(keys.map((k) => [k.id, k]));
  const memberById = new Map(members.map((m) => [m.id, m]));
  const who: WebhookActor = {
    type: actor.type,
    id: actor.userId,
    name: actorUser?.name ?? (actor.keyHint && actor.type === 'SCIM' ? `SCIM key ${actor.keyHint}` : ACTOR_NAMES[actor.type]),
  };

  const events: { id: string; teamId: string; type: WebhookEventType; body: string }[] = [];
  for (const source of wanted) {
    let data: unknown;
    if ('keyId' in source) {
      const key = keyById.get(source.keyId);
      if (!key) continue;
      const state = effectiveLifecycle(key, at.getTime());
      data = {
        apiKey: {
          id: key.id,
          kind: key.kind,
          name: key.name,
          hint: displayHint(key.kind, key.hint),
          status: state.status,
          expiresAt: key.expiresAt?.toISOString() ?? null,
          owner: key.createdBy,
        },
        reason: source.reason ?? (source.type === 'api_key.revoked' ? (state.revocationReason ?? null) : null),
        actor: who,
      };
    } else {
      const member = memberById.get(source.userId);
      if (!member) continue;
      data = {
        member: {
          id: member.id,
          name: member.name,
          email: member.email,
          externalId: member.externalId,
          active: member.active,
          deleted: member.deletedAt !== null,
        },
        reason: source.reason ?? null,
        actor: who,
      };
    }
    events.push({ id: newEventId(), teamId: source.teamId, type: source.type, body: webhookBody(source.type, at, data) });
  }
  return insertEvents(db, events, at);
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
