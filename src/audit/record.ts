// The one way to write audit events (SPEC §5 "Audit"): inside the caller's transaction, so an
// event exists exactly when its change committed (a refused change writes none), and any number
// of events in ONE statement (a bulk revocation of 10,000 keys is one INSERT … unnest).
//
//   await recordAudit(tx, actor, [{ teamId, action: 'api_key.rotated', targetType: 'api_key', targetId: key.id, summary }]);
//
// `actor` comes from the request (actor.ts: auditActorOf(ctx) in a resolver, SYSTEM_ACTOR in a
// job). The same call enqueues the webhook events of the changes it records (SPEC §5: in the
// change's transaction; src/webhooks/event-types.ts says which actions are events). No secret may reach an event: callers write hints (kp_…Xy9Q), and anything shaped like a
// key or an invitation token that slips into a text field is blanked here all the same.
import { randomBytes } from 'node:crypto';
import type { Prisma } from '../generated/prisma/client.js';
import { EVENT_OF_AUDIT_ACTION } from '../webhooks/event-types.js';
import { enqueueWebhookEvents, type WebhookEventSource } from '../webhooks/outbox.js';
import type { AuditAction, AuditTargetType } from './actions.js';
import type { AuditActor } from './actor.js';

export interface AuditEntry {
  teamId: string;
  action: AuditAction;
  targetType: AuditTargetType;
  targetId: string | null;
  /** one human line: what changed (names, hints, reasons; never a secret) */
  summary: string;
}

const MAX_SUMMARY = 1_000;
const MAX_USER_AGENT = 512;
// Keys of every kind (SPEC §2) and invitation tokens, wherever they appear in a text.
const SECRET = /kp[cs]?_[0-9A-Za-z]{36}|kpinv_[0-9A-Za-z_-]+/g;
// PostgreSQL text cannot hold NUL; lone surrogates would not survive UTF-8 either.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** A text as stored in an event: no secret, nothing PostgreSQL refuses, bounded. */
export function auditText(text: string, max: number): string;
export function auditText(text: string | null, max: number): string | null;
export function auditText(text: string | null, max: number): string | null {
  if (text === null) return null;
  const clean = text.replace(UNSTORABLE, '\ufffd').replace(SECRET, '[redacted]');
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

let lastMs = 0;
let sequence = 0;

/**
 * A UUIDv7 (RFC 9562) whose 12-bit rand_a is a counter within the millisecond: ids made by this
 * process only grow, so events written at one timestamp (one statement, one transaction) read
 * back in the order they were recorded (pages order by at, then id).
 */
export function auditEventId(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    sequence = 0;
  } else if (++sequence > 0xfff) {
    lastMs += 1;
    sequence = 0;
  }
  const bytes = randomBytes(16);
  bytes.writeUIntBE(lastMs, 0, 6);
  bytes[6] = 0x70 | (sequence >> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Writes `entries` as events of `actor`, in `db`'s transaction, in one statement. */
export async function recordAudit(
  db: Prisma.TransactionClient,
  actor: AuditActor,
  entries: readonly AuditEntry[],
  at = new Date(),
): Promise<void> {
  if (entries.length === 0) return;
  await db.$executeRawUnsafe(
    `INSERT INTO "AuditEvent" ("id", "teamId", "at", "action", "actorType", "actorId", "actorKeyHint",
                               "targetType", "targetId", "summary", "address", "userAgent")
     SELECT e.id, e."teamId", $6::timestamptz, e.action, $7::"AuditActorType", $8, $9, e."targetType", e."targetId", e.summary, $10, $11
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $12::text[])
            AS e(id, "teamId", action, "targetType", "targetId", summary)`,
    entries.map(() => auditEventId()),
    entries.map((e) => e.teamId),
    entries.map((e) => e.action),
    entries.map((e) => e.targetType),
    entries.map((e) => (e.targetId === null ? null : auditText(e.targetId, 200))),
    at,
    actor.type,
    actor.userId,
    actor.keyHint,
    actor.address === null ? null : auditText(actor.address, 100),
    actor.userAgent === null ? null : auditText(actor.userAgent, MAX_USER_AGENT),
    entries.map((e) => auditText(e.summary, MAX_SUMMARY)),
  );
  await enqueueWebhookEvents(db, actor, entries.flatMap(webhookEventOf), at);
}

/** The webhook event an audited change is, if any (src/webhooks/event-types.ts). */
function webhookEventOf(entry: AuditEntry): WebhookEventSource[] {
  const type = EVENT_OF_AUDIT_ACTION[entry.action];
  if (!type || entry.targetId === null) return [];
  if (type === 'member.deprovisioned') return [{ type, teamId: entry.teamId, userId: entry.targetId }];
  return [{ type, teamId: entry.teamId, keyId: entry.targetId, reason: type === 'api_key.exposed' ? 'EXPOSED' : undefined }];
}
