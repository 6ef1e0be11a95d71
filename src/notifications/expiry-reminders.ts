// Expiry reminders (SPEC §5): when a key's effective expiry (ApiKey.expiresAt: its own or the
// team's) comes within one of its team's `expiryReminderDays`, its owner gets one in-app
// notification for that key and threshold, one email per job run listing all of their keys that
// reached a threshold in it, and an `apiKeyExpiring` event per key.
//
// Exactly once, whatever the number of instances and restarts:
// - each run claims the OWNERS with keys due, `FOR NO KEY UPDATE SKIP LOCKED` (as the email
//   dispatcher claims outbox rows): an owner is handled by one runner at a time, so their keys of
//   a run land in one email, and the claim's statements see what an earlier claim committed;
// - what was reached is recorded (ExpiryReminder, one row per key and threshold with the expiry it
//   was reached for) in the same transaction as the notifications and the outbox emails; the
//   upsert re-arms a threshold only for a later expiry, and its conflict target is the last guard.
// A key first seen inside several thresholds is reminded once, for the smallest; the larger ones
// are recorded as done (`notified` false). Only ENABLED personal keys with an expiry in the future
// are considered: DISABLED, REVOKED and expired keys get none; collection access keys (and SCIM
// keys) have no expiry, so none either.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { SYSTEM_ACTOR } from '../audit/actor.js';
import type { Prisma, PrismaClient } from '../generated/prisma/client.js';
import type { KeyplanePubSub } from '../realtime/pubsub.js';
import type { OutboxListener } from '../revocation/service.js';
import { enqueueWebhookEvents } from '../webhooks/outbox.js';
import { daysLeft, type ExpiringKey, expiryReminderEmail, expiryReminderMessage } from './expiry-messages.js';

export const API_KEY_EXPIRING = 'API_KEY_EXPIRING';

/** The largest reminder threshold a team may choose (days before expiry). */
export const MAX_REMINDER_DAYS = 90;
/** How many thresholds a team may choose. */
export const MAX_REMINDER_THRESHOLDS = 5;

/** Owners claimed per transaction: a first run over a big team is a few bounded transactions. */
const OWNERS_PER_BATCH = 500;

/** Keys of one owner reminded per run at most: the rest stay due for the next run. */
export const KEYS_PER_OWNER_PER_RUN = 100;

/**
 * The (key, threshold) pairs due at $1 and not yet reached for this expiry or a later one, with
 * the smallest threshold each key is inside. $1 is the run's clock, bound once per statement;
 * `owners` narrows it to the claimed owners ($2), so that a batch reads only their keys.
 */
function due(owners: boolean): string {
  return `
  inside AS (
    SELECT k."id", k."createdById", k."expiresAt", t."days",
           min(t."days") OVER (PARTITION BY k."id") AS "smallest"
      FROM "ApiKey" k
      JOIN "Team" tm ON tm."id" = k."teamId"
      CROSS JOIN LATERAL unnest(tm."expiryReminderDays") AS t("days")
     WHERE k."kind" = 'PERSONAL' AND k."status" = 'ENABLED'
       AND k."expiresAt" > $1::timestamptz
       AND k."expiresAt" <= $1::timestamptz + make_interval(days => ${MAX_REMINDER_DAYS})
       AND k."expiresAt" <= $1::timestamptz + make_interval(days => t."days")
       ${owners ? 'AND k."createdById" = ANY($2::text[])' : ''}
  ),
  due AS (
    SELECT i.* FROM inside i
     WHERE NOT EXISTS (SELECT 1 FROM "ExpiryReminder" r
                        WHERE r."keyId" = i."id" AND r."thresholdDays" = i."days" AND r."expiresAt" >= i."expiresAt")
  )`;
}

interface Reached {
  keyId: string;
  thresholdDays: number;
  expiresAt: Date;
  notified: boolean;
}

/** What a committed batch announces. */
interface Reminded {
  notifications: { id: string; userId: string }[];
  events: { ownerId: string; keyId: string; expiresAt: Date; daysLeft: number }[];
  emailIds: string[];
}

export class ExpiryReminders {
  private timer?: NodeJS.Timeout;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly pubsub: KeyplanePubSub,
    private readonly outbox: OutboxListener,
    private readonly log: Logger,
    private readonly intervalMs = 30_000,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      // One run at a time per instance: a slow run is not overlapped by the next tick.
      this.running = this.running.then(() =>
        this.stopped ? 0 : this.run().catch((error: unknown) => this.log.error({ err: error }, 'expiry reminders failed')),
      );
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** Sends every reminder due at `now`; returns how many keys were reminded by this runner. */
  async run(now = new Date()): Promise<number> {
    let reminded = 0;
    // Owners this run has reminded are not claimed again by its later batches: one email per
    // owner per run, even for an owner with more than KEYS_PER_OWNER_PER_RUN keys due.
    const done: string[] = [];
    for (;;) {
      const { batch, claimedOwners, owners } = await this.remindBatch(now, done);
      done.push(...owners);
      reminded += batch.events.length;
      this.announce(batch);
      if (claimedOwners < OWNERS_PER_BATCH) return reminded;
    }
  }

  private async remindBatch(now: Date, done: string[]): Promise<{ batch: Reminded; claimedOwners: number; owners: string[] }> {
    return this.prisma.$transaction(async (tx) => {
      const owners = await tx.$queryRawUnsafe<{ id: string }[]>(
        `WITH ${due(false)}
         SELECT u."id" FROM "User" u WHERE u."id" IN (SELECT "createdById" FROM due) AND u."id" <> ALL($3::text[])
          ORDER BY u."id" LIMIT $2 FOR NO KEY UPDATE OF u SKIP LOCKED`,
        now,
        OWNERS_PER_BATCH,
        done,
      );
      if (owners.length === 0) return { batch: { notifications: [], events: [], emailIds: [] }, claimedOwners: 0, owners: [] };
      const reached = await tx.$queryRawUnsafe<Reached[]>(
        // An owner's soonest KEYS_PER_OWNER_PER_RUN keys: one owner with thousands of keys due
        // (a CI bot) makes bounded transactions and emails, the rest follow in the next runs.
        `WITH ${due(true)},
         ranked AS (SELECT due.*, dense_rank() OVER (PARTITION BY "createdById" ORDER BY "expiresAt", "id") AS "rank" FROM due)
         INSERT INTO "ExpiryReminder" ("keyId", "thresholdDays", "expiresAt", "notified", "reachedAt")
         SELECT "id", "days", "expiresAt", "days" = "smallest", $1::timestamptz FROM ranked WHERE "rank" <= $3
         ON CONFLICT ("keyId", "thresholdDays") DO UPDATE
           SET "expiresAt" = EXCLUDED."expiresAt", "notified" = EXCLUDED."notified", "reachedAt" = EXCLUDED."reachedAt"
           WHERE "ExpiryReminder"."expiresAt" < EXCLUDED."expiresAt"
         RETURNING "keyId", "thresholdDays", "expiresAt", "notified"`,
        now,
        owners.map((o) => o.id),
        KEYS_PER_OWNER_PER_RUN,
      );
      const batch = await this.writeReminders(
        tx,
        reached.filter((r) => r.notified),
        now,
      );
      return { batch, claimedOwners: owners.length, owners: owners.map((o) => o.id) };
    });
  }

  /** In the claim's transaction: a notification per key, an outbox email per owner. */
  private async writeReminders(tx: Prisma.TransactionClient, reached: Reached[], now: Date): Promise<Reminded> {
    if (reached.length === 0) return { notifications: [], events: [], emailIds: [] };
    const keys = await tx.$queryRawUnsafe<{ id: string; teamId: string; name: string; hint: string; createdById: string }[]>(
      `SELECT "id", "teamId", "name", "hint", "createdById" FROM "ApiKey" WHERE "id" = ANY($1::text[]) ORDER BY "expiresAt", "id"`,
      reached.map((r) => r.keyId),
    );
    const expiryOf = new Map(reached.map((r) => [r.keyId, r.expiresAt]));
    const owners = await tx.user.findMany({
      where: { id: { in: [...new Set(keys.map((k) => k.createdById))] } },
      select: { id: true, name: true, email: true },
    });

    const notifications: { id: string; userId: string; keyId: string; message: string }[] = [];
    const events: Reminded['events'] = [];
    const byOwner = new Map<string, ExpiringKey[]>();
    for (const key of keys) {
      const expiresAt = expiryOf.get(key.id)!;
      const expiring: ExpiringKey = { name: key.name, hint: key.hint, expiresAt, daysLeft: daysLeft(expiresAt, now) };
      notifications.push({ id: randomUUID(), userId: key.createdById, keyId: key.id, message: expiryReminderMessage(expiring) });
      events.push({ ownerId: key.createdById, keyId: key.id, expiresAt, daysLeft: expiring.daysLeft });
      byOwner.set(key.createdById, [...(byOwner.get(key.createdById) ?? []), expiring]);
    }
    // unnest: one INSERT for any number of rows, as the revocation notices do.
    await tx.$executeRawUnsafe(
      `INSERT INTO "Notification" ("id", "userId", "kind", "message", "keyId")
       SELECT id, "userId", $5, message, "keyId" FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS n(id, "userId", message, "keyId")`,
      notifications.map((n) => n.id),
      notifications.map((n) => n.userId),
      notifications.map((n) => n.message),
      notifications.map((n) => n.keyId),
      API_KEY_EXPIRING,
    );
    const emails: Prisma.EmailOutboxCreateManyInput[] = owners.map((owner) => ({
      id: randomUUID(),
      to: owner.email,
      ...expiryReminderEmail(owner, byOwner.get(owner.id)!),
    }));
    await tx.emailOutbox.createMany({ data: emails });
    await enqueueWebhookEvents(
      tx,
      SYSTEM_ACTOR,
      keys.map((key) => ({ type: 'api_key.expiring', teamId: key.teamId, keyId: key.id })),
      now,
    );
    return {
      notifications: notifications.map(({ id, userId }) => ({ id, userId })),
      events,
      emailIds: emails.map((e) => e.id!),
    };
  }

  /** After commit: the live events, then the outbox is told about its new emails. */
  private announce({ notifications, events, emailIds }: Reminded): void {
    for (const notification of notifications) this.pubsub.publish('notificationAdded', notification.userId, notification);
    for (const e of events) {
      this.pubsub.publish('apiKeyExpiring', e.ownerId, { keyId: e.keyId, expiresAt: e.expiresAt.toISOString(), daysLeft: e.daysLeft });
    }
    if (emailIds.length) this.outbox.queued(emailIds);
  }
}
