// Persists expiries: a key past its expiresAt already reads REVOKED/EXPIRED everywhere; this job
// writes it down (status REVOKED, reason EXPIRED, revokedAt = expiresAt). Safe with several
// instances running it at once: each claims rows with FOR UPDATE SKIP LOCKED.
import type { Logger } from 'pino';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { KeyEvents } from '../keys/events.js';

export class ExpiryJob {
  private timer?: NodeJS.Timeout;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly prisma: PrismaClient,
    private readonly keyEvents: KeyEvents,
    private readonly log: Logger,
    private readonly intervalMs = 30_000,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running = this.run().catch((error: unknown) => this.log.error({ err: error }, 'expiry job failed'));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Persists every expiry up to `now`, in batches; returns how many keys this run wrote. */
  async run(now = new Date(), batch = 1_000): Promise<number> {
    let total = 0;
    for (;;) {
      const rows = await this.prisma.$queryRawUnsafe<{ id: string; teamId: string; hash: string; expiresAt: Date }[]>(
        `UPDATE "ApiKey" SET "status" = 'REVOKED', "revocationReason" = 'EXPIRED', "revokedAt" = "expiresAt", "updatedAt" = $1::timestamptz
          WHERE "id" IN (SELECT "id" FROM "ApiKey"
                          WHERE "status" <> 'REVOKED' AND "expiresAt" <= $1::timestamptz
                          ORDER BY "expiresAt" LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING "id", "teamId", "hash", "expiresAt"`,
        now,
        batch,
      );
      for (const key of rows) this.keyEvents.changed({ keyId: key.id, teamId: key.teamId, hash: key.hash, change: 'expired', expiresAt: key.expiresAt });
      total += rows.length;
      if (rows.length < batch) return total;
    }
  }
}
