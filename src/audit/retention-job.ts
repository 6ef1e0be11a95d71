// AUDIT_RETENTION_DAYS: events older than that are purged, a batch at a time (short transactions,
// no long lock on a table the requests append to), team by team along the (teamId, at) index. The
// only deleter of audit rows: the append-only trigger lets a DELETE through only in a transaction
// that set keyplane.audit_retention (migration audit_events).
import type { Logger } from 'pino';
import type { PrismaClient } from '../generated/prisma/client.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

export class AuditRetentionJob {
  private timer?: NodeJS.Timeout;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly prisma: PrismaClient,
    private readonly retentionDays: number,
    private readonly log: Logger,
    private readonly intervalMs = HOUR_MS,
  ) {}

  start(): void {
    const tick = () => {
      this.running = this.run().catch((error: unknown) => this.log.error({ err: error }, 'audit retention job failed'));
    };
    tick();
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Deletes every event older than the retention period as of `now`; returns how many. */
  async run(now = new Date(), batch = 10_000): Promise<number> {
    const cutoff = new Date(now.getTime() - this.retentionDays * DAY_MS);
    const teams = await this.prisma.$queryRawUnsafe<{ teamId: string }[]>(
      `SELECT "id" AS "teamId" FROM "Team" t WHERE EXISTS (SELECT 1 FROM "AuditEvent" e WHERE e."teamId" = t."id" AND e."at" < $1::timestamptz)`,
      cutoff,
    );
    let total = 0;
    for (const { teamId } of teams) {
      for (;;) {
        const deleted = await this.prisma.$transaction(async (tx) => {
          await tx.$executeRawUnsafe(`SELECT set_config('keyplane.audit_retention', 'on', true)`);
          return tx.$executeRawUnsafe(
            `DELETE FROM "AuditEvent" WHERE "id" IN (
               SELECT "id" FROM "AuditEvent" WHERE "teamId" = $1 AND "at" < $2::timestamptz
                ORDER BY "at", "id" LIMIT $3)`,
            teamId,
            cutoff,
            batch,
          );
        });
        total += deleted;
        if (deleted < batch) break;
      }
    }
    if (total > 0) this.log.info({ purged: total, olderThan: cutoff.toISOString() }, 'audit events past retention purged');
    return total;
  }
}
