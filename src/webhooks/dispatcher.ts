// Posts the rendered webhook deliveries (src/webhooks/outbox.ts) per Standard Webhooks. Like the email
// dispatcher: due rows are claimed with one UPDATE … FOR UPDATE SKIP LOCKED that also leases them
// (several instances never post one attempt twice) and no transaction is open while an endpoint
// answers. Posts run in the background, at most CONCURRENCY at a time per instance, so a slow or
// dead endpoint holds one slot for at most the request timeout and never a request or a
// revocation. Nudged when events are rendered and by sendTestWebhook; polled every second
// otherwise (other instances' events, retries coming due).
//
// A failed attempt is retried on Svix's schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, scaled
// by WEBHOOK_RETRY_SECONDS / 5), then FAILED. An endpoint whose attempts have all failed for
// WEBHOOK_DISABLE_AFTER_HOURS is disabled: its pending deliveries fail, the change is audited
// (SYSTEM) and the team's admins are notified.
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import { SYSTEM_ACTOR } from '../audit/actor.js';
import { recordAudit } from '../audit/record.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import { NudgedLoop } from '../jobs/nudged-loop.js';
import type { KeyplanePubSub } from '../realtime/pubsub.js';
import { postWebhook, type Resolver, WebhookRequestError } from './http-client.js';
import { label as endpointLabel } from './service.js';

export const WEBHOOK_DISABLED = 'WEBHOOK_DISABLED';
export const ENDPOINT_DISABLED_ERROR = 'endpoint disabled';
/** sendTestWebhook's event: posted even to a disabled endpoint (an admin asked for it). */
const TEST_EVENT = 'webhook.test';

/** Svix's delays after attempts 1…7, in units of the first (WEBHOOK_RETRY_SECONDS, 5 s by default). */
const RETRY_SCHEDULE = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000].map((seconds) => seconds / 5);
/** The first attempt and one per step of the schedule. */
export const MAX_WEBHOOK_ATTEMPTS = RETRY_SCHEDULE.length + 1;

const REQUEST_TIMEOUT_MS = 15_000;
/** Longer than a request may take: a lease runs out only when its instance died mid-post. */
const LEASE_SECONDS = 60;
const CONCURRENCY = 10;
const POLL_MS = 1_000;
/** How long stop() lets posts under way finish; the rest are retried once their lease ends. */
const STOP_GRACE_MS = 2_000;
const MAX_ERROR = 500;

interface ClaimedDelivery {
  id: string;
  /** the lease this dispatcher holds: its updates apply only while it still holds it */
  claimedUntil: Date;
  /** this attempt's number */
  attempts: number;
  teamId: string;
  eventId: string;
  type: string;
  body: string;
  endpointId: string;
  url: string;
  enabled: boolean;
  secretSealed: string;
  previousSecretSealed: string | null;
  previousSecretExpiresAt: Date | null;
}

export interface WebhookDispatcherOptions {
  /** the first retry delay; the schedule scales with it */
  retrySeconds: number;
  disableAfterHours: number;
  allowPrivateUrls: boolean;
  pollMs?: number;
  concurrency?: number;
  /** how endpoint host names are resolved (the system's resolver; tests name a host that resolves where they say) */
  resolveHost?: Resolver;
}

/** An attempt that failed before an endpoint was asked (our side: nothing to hold against it). */
class LocalFailure extends Error {}

export class WebhookDispatcher {
  /** claims: on each nudge (a post ended, deliveries rendered) and every poll */
  private readonly loop: NudgedLoop;
  private stopped = false;
  /** set when stop() gave up waiting: late outcomes are not written (the lease lapses instead) */
  private abandoned = false;
  private readonly posting = new Set<Promise<void>>();
  /** retries due before the next poll: one timer for the earliest */
  private wake?: { at: number; timer: NodeJS.Timeout };
  succeeded = 0;
  failed = 0;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly secretBox: SecretBox,
    private readonly pubsub: KeyplanePubSub,
    private readonly log: Logger,
    private readonly options: WebhookDispatcherOptions,
  ) {
    // A pass claims as many as there are free slots; it goes on while it fills them all.
    this.loop = new NudgedLoop(
      'webhook dispatcher',
      async () => {
        const free = this.freeSlots();
        return free > 0 && (await this.claim(free)) === free;
      },
      log,
      options.pollMs ?? POLL_MS,
    );
  }

  start(): void {
    this.loop.start();
  }

  /** Claims what is due now (or right after the pass under way), as far as free slots allow. */
  nudge(): void {
    this.loop.nudge();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.wake?.timer);
    await this.loop.stop();
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.posting),
      new Promise((resolve) => {
        grace = setTimeout(resolve, STOP_GRACE_MS);
      }),
    ]);
    clearTimeout(grace);
    this.abandoned = true;
  }

  private freeSlots(): number {
    return (this.options.concurrency ?? CONCURRENCY) - this.posting.size;
  }

  /** Claims up to `limit` due deliveries and starts posting them; returns how many it claimed. */
  private async claim(limit: number): Promise<number> {
    const claimed = await this.prisma.$queryRawUnsafe<ClaimedDelivery[]>(
      `WITH due AS (
         SELECT "id" FROM "WebhookDelivery"
          WHERE "status" = 'PENDING' AND "nextAttemptAt" <= now()
            AND ("claimedUntil" IS NULL OR "claimedUntil" <= now())
          ORDER BY "nextAttemptAt" LIMIT $1 FOR UPDATE SKIP LOCKED),
       claimed AS (
         UPDATE "WebhookDelivery" d SET "claimedUntil" = now() + make_interval(secs => $2), "attempts" = d."attempts" + 1
           FROM due WHERE d."id" = due."id"
         RETURNING d."id", d."claimedUntil", d."attempts", d."teamId", d."eventId", d."endpointId")
       SELECT c."id", c."claimedUntil", c."attempts", c."teamId", c."eventId", e."type", e."body", c."endpointId",
              ep."url", ep."enabled", ep."secretSealed", ep."previousSecretSealed", ep."previousSecretExpiresAt"
         FROM claimed c
         JOIN "WebhookEvent" e ON e."id" = c."eventId"
         JOIN "WebhookEndpoint" ep ON ep."id" = c."endpointId"`,
      limit,
      LEASE_SECONDS,
    );
    for (const delivery of claimed) {
      const post = this.deliver(delivery)
        .catch((error: unknown) => this.log.error({ err: error, deliveryId: delivery.id }, 'could not record a webhook delivery'))
        .finally(() => {
          this.posting.delete(post);
          this.nudge(); // a slot is free
        });
      this.posting.add(post);
    }
    return claimed.length;
  }

  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    const held = { id: delivery.id, claimedUntil: delivery.claimedUntil };
    if (!delivery.enabled && delivery.type !== TEST_EVENT) {
      // Not an attempt: the claim's count is given back.
      await this.prisma.webhookDelivery.updateMany({
        where: held,
        data: {
          status: 'FAILED',
          attempts: delivery.attempts - 1,
          nextAttemptAt: null,
          claimedUntil: null,
          lastError: ENDPOINT_DISABLED_ERROR,
        },
      });
      return;
    }
    const at = new Date();
    let status: number | null = null;
    let problem: Error | null = null;
    try {
      const headers = this.sign(delivery, at);
      status = (
        await postWebhook(new URL(delivery.url), delivery.body, headers, {
          allowPrivateUrls: this.options.allowPrivateUrls,
          timeoutMs: REQUEST_TIMEOUT_MS,
          resolve: this.options.resolveHost,
        })
      ).status;
      if (status < 200 || status > 299) problem = new Error(`HTTP ${status}`);
    } catch (error) {
      // Only messages meant to be shown: the client's and the secret box's; anything else is ours.
      problem = error instanceof WebhookRequestError || error instanceof LocalFailure ? error : new Error('the request could not be made');
      if (!(error instanceof WebhookRequestError || error instanceof LocalFailure)) {
        this.log.warn({ err: error, deliveryId: delivery.id }, 'webhook request failed');
      }
    }
    if (this.abandoned) return;

    if (!problem) {
      this.succeeded += 1;
      // If this write fails, the lease runs out and the event goes again (at least once).
      await this.prisma.webhookDelivery.updateMany({
        where: held,
        data: { status: 'SUCCEEDED', responseStatus: status, lastAttemptAt: at, nextAttemptAt: null, claimedUntil: null, lastError: null },
      });
      // Asked every time (a read by primary key when it is not failing): what the claim saw may be
      // older than a failure another post recorded meanwhile.
      await this.prisma.webhookEndpoint.updateMany({
        where: { id: delivery.endpointId, failingSince: { not: null } },
        data: { failingSince: null },
      });
      return;
    }

    this.failed += 1;
    const lastError = problem.message.slice(0, MAX_ERROR);
    const disabled = problem instanceof LocalFailure ? false : await this.recordEndpointFailure(delivery, at, lastError);
    // After attempt n comes the n-th delay of the schedule; after the last one, none.
    const step = RETRY_SCHEDULE[delivery.attempts - 1];
    const last = step === undefined || (disabled && delivery.type !== TEST_EVENT);
    const delayMs = last ? 0 : step * this.options.retrySeconds * 1000;
    this.log.warn({ deliveryId: delivery.id, attempts: delivery.attempts, err: lastError, final: last }, 'webhook delivery failed');
    await this.prisma.webhookDelivery.updateMany({
      where: held,
      data: {
        status: last ? 'FAILED' : 'PENDING',
        responseStatus: status,
        lastAttemptAt: at,
        lastError,
        nextAttemptAt: last ? null : new Date(at.getTime() + delayMs),
        claimedUntil: null,
      },
    });
    if (!last) this.wakeIn(delayMs);
  }

  /** The Standard Webhooks headers; during a rotation window, signed with both secrets. */
  private sign(delivery: ClaimedDelivery, at: Date): Record<string, string> {
    const signatures = [this.signature(delivery.secretSealed, delivery, at)];
    if (delivery.previousSecretSealed && delivery.previousSecretExpiresAt && delivery.previousSecretExpiresAt > at) {
      signatures.push(this.signature(delivery.previousSecretSealed, delivery, at));
    }
    return {
      'content-type': 'application/json',
      'webhook-id': delivery.eventId,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signatures.join(' '),
    };
  }

  private signature(sealed: string, delivery: ClaimedDelivery, at: Date): string {
    let secret: string;
    try {
      secret = this.secretBox.open(sealed, delivery.endpointId);
    } catch (error) {
      // SecretBoxError: e.g. sealed under another ENCRYPTION_KEY. Its message names no secret.
      throw new LocalFailure(error instanceof Error ? error.message : String(error));
    }
    return new Webhook(secret).sign(delivery.eventId, at, delivery.body);
  }

  /**
   * Notes the failure on the endpoint (failingSince, kept until a success) and disables it once it
   * has failed for WEBHOOK_DISABLE_AFTER_HOURS. Returns whether it is now disabled.
   */
  private async recordEndpointFailure(delivery: ClaimedDelivery, at: Date, lastError: string): Promise<boolean> {
    const [endpoint] = await this.prisma.$queryRawUnsafe<{ failingSince: Date; enabled: boolean }[]>(
      `UPDATE "WebhookEndpoint" SET "failingSince" = COALESCE("failingSince", $2::timestamptz)
        WHERE "id" = $1 RETURNING "failingSince", "enabled"`,
      delivery.endpointId,
      at,
    );
    if (!endpoint) return false; // deleted meanwhile
    if (!endpoint.enabled) return true;
    if (at.getTime() - endpoint.failingSince.getTime() < this.options.disableAfterHours * 3_600_000) return false;
    return this.disable(delivery, endpoint.failingSince, at, lastError);
  }

  private async disable(delivery: ClaimedDelivery, failingSince: Date, at: Date, lastError: string): Promise<boolean> {
    const since = `failing since ${failingSince.toISOString()} (last error: ${lastError})`;
    const reason = `disabled after ${since}`;
    const notifications = await this.prisma.$transaction(async (tx) => {
      // One instance wins; the others see it disabled already.
      const won = await tx.webhookEndpoint.updateMany({
        where: { id: delivery.endpointId, enabled: true, failingSince },
        data: { enabled: false, disabledReason: reason },
      });
      if (won.count === 0) return null;
      // Deliveries under way elsewhere finish their attempt; the next claim fails them.
      await tx.$executeRawUnsafe(
        `UPDATE "WebhookDelivery" d SET "status" = 'FAILED', "nextAttemptAt" = NULL, "lastError" = $2
           FROM "WebhookEvent" e
          WHERE d."endpointId" = $1 AND d."status" = 'PENDING' AND d."id" <> $3
            AND ("claimedUntil" IS NULL OR "claimedUntil" <= now())
            AND e."id" = d."eventId" AND e."type" <> $4`,
        delivery.endpointId,
        ENDPOINT_DISABLED_ERROR,
        delivery.id,
        TEST_EVENT,
      );
      const where = endpointLabel(delivery);
      await recordAudit(
        tx,
        SYSTEM_ACTOR,
        [
          {
            teamId: delivery.teamId,
            action: 'webhook.updated',
            targetType: 'webhook',
            targetId: delivery.endpointId,
            summary: `Disabled ${where} after ${since}`,
          },
        ],
        at,
      );
      return tx.$queryRawUnsafe<{ id: string; userId: string }[]>(
        `INSERT INTO "Notification" ("id", "userId", "kind", "message")
         SELECT gen_random_uuid()::text, u."id", $2, $3 FROM "User" u
          WHERE u."teamId" = $1 AND u."role" IN ('TEAM_ADMIN', 'SUPER_ADMIN') AND u."active" AND u."deletedAt" IS NULL
         RETURNING "id", "userId"`,
        delivery.teamId,
        WEBHOOK_DISABLED,
        `Keyplane disabled the ${where} after ${since}. Fix it, then enable it again.`,
      );
    });
    if (notifications === null) return true;
    this.log.warn({ endpointId: delivery.endpointId, failingSince }, 'webhook endpoint disabled after failing');
    for (const notification of notifications) this.pubsub.publish('notificationAdded', notification.userId, notification);
    return true;
  }

  /** A retry due before the next poll: a pass then (tests run the schedule in milliseconds). */
  private wakeIn(delayMs: number): void {
    if (this.stopped || delayMs >= (this.options.pollMs ?? POLL_MS)) return;
    const at = Date.now() + delayMs;
    if (this.wake && this.wake.at <= at) return;
    clearTimeout(this.wake?.timer);
    const timer = setTimeout(() => {
      this.wake = undefined;
      this.nudge();
    }, delayMs);
    timer.unref();
    this.wake = { at, timer };
  }
}
