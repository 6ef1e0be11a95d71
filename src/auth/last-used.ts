// lastUsedAt without a database write per request: uses are kept in memory and written in one
// statement every few seconds (SPEC §4 allows 10 s of lag), and on shutdown.
import type { PrismaClient } from '../generated/prisma/client.js';

export class LastUsedRecorder {
  private pending = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly prisma: PrismaClient,
    private readonly onError: (error: unknown) => void,
    private readonly intervalMs = 5_000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  record(keyId: string, at: number): void {
    const seen = this.pending.get(keyId);
    if (seen === undefined || seen < at) this.pending.set(keyId, at);
  }

  /** Writes what has been seen so far; flushes never overlap. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const ids = [...batch.keys()];
    const times = ids.map((id) => new Date(batch.get(id)!).toISOString());
    try {
      await this.prisma.$executeRawUnsafe(
        `UPDATE "ApiKey" AS k SET "lastUsedAt" = v.ts
           FROM unnest($1::text[], $2::timestamptz[]) AS v(id, ts)
          WHERE k.id = v.id AND (k."lastUsedAt" IS NULL OR k."lastUsedAt" < v.ts)`,
        ids,
        times,
      );
    } catch (error) {
      // Keep the uses for the next attempt rather than lose them.
      for (const [id, at] of batch) this.record(id, at);
      this.onError(error);
    }
  }
}
