// lastUsedAt without a database write per request: uses are kept in memory and written in one
// statement every few seconds (SPEC §4 allows 10 s of lag), and on shutdown. lastUsedFrom (the
// client address of that last use, SPEC §5) travels with it: the same write, no other.
import type { PrismaClient } from '../generated/prisma/client.js';

export class LastUsedRecorder {
  /** keyId → the latest use seen here: when, and from which client address */
  private pending = new Map<string, { at: number; from: string | null }>();
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

  record(keyId: string, at: number, from?: string | null): void {
    const seen = this.pending.get(keyId);
    // Same millisecond: the later call is the later use (its address wins).
    if (seen === undefined || seen.at < at) this.pending.set(keyId, { at, from: from ?? null });
    else if (seen.at === at && from != null) seen.from = from;
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
    const ids: string[] = [];
    const times: string[] = [];
    const addresses: (string | null)[] = [];
    for (const [id, use] of batch) {
      ids.push(id);
      times.push(new Date(use.at).toISOString());
      addresses.push(use.from);
    }
    try {
      // The latest use wins, across instances too: an older one changes neither column.
      await this.prisma.$executeRawUnsafe(
        `UPDATE "ApiKey" AS k SET "lastUsedAt" = v.ts, "lastUsedFrom" = COALESCE(v.address, k."lastUsedFrom")
           FROM unnest($1::text[], $2::timestamptz[], $3::text[]) AS v(id, ts, address)
          WHERE k.id = v.id AND (k."lastUsedAt" IS NULL OR k."lastUsedAt" < v.ts)`,
        ids,
        times,
        addresses,
      );
    } catch (error) {
      // Keep the uses for the next attempt rather than lose them.
      for (const [id, { at, from }] of batch) this.record(id, at, from);
      this.onError(error);
    }
  }
}
