// Monthly API calls per team (calendar month, UTC). Counting costs no database write per request:
// increments are buffered and added to MonthlyUsage in one statement every few seconds and on
// shutdown. With Redis, instances share the live count (an atomic check-and-increment script);
// while Redis is down each instance goes on counting in memory from what it knows.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { Plan } from '../generated/prisma/enums.js';

export interface QuotaState {
  allowed: boolean;
  used: number;
  limit: number;
  resetAt: Date;
}

export const monthOf = (d: Date) => d.toISOString().slice(0, 7);

/** The current month and when it ends, recomputed only when a month boundary has passed. */
class MonthClock {
  private month = '';
  private endsAt = 0;
  private resetAt = new Date(0);

  now(at: number): { month: string; resetAt: Date } {
    if (at >= this.endsAt || at < this.endsAt - 32 * 86_400_000) {
      const d = new Date(at);
      this.month = monthOf(d);
      this.resetAt = monthResetAt(d);
      this.endsAt = this.resetAt.getTime();
    }
    return { month: this.month, resetAt: this.resetAt };
  }
}
export const monthResetAt = (d: Date) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));

// KEYS[1] counter; ARGV: points, limit, seed (the database's count), ttl seconds.
// Returns {allowed (1/0), total after}. Over the limit nothing is added.
const CONSUME_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4]) end
local current = tonumber(redis.call('GET', KEYS[1]))
local points = tonumber(ARGV[1])
if points > 0 and current + points > tonumber(ARGV[2]) then return {0, current} end
return {1, redis.call('INCRBY', KEYS[1], points)}
`;

export class MonthlyQuota {
  /** The best known total per team-month (the live count in memory mode). */
  private readonly totals = new Map<string, number>();
  private readonly seeding = new Map<string, Promise<number>>();
  /** Increments not yet written to the database. */
  private pending = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  private readonly clock = new MonthClock();

  constructor(
    private readonly prisma: PrismaClient,
    private readonly limits: Record<Plan, number>,
    private readonly log: Logger,
    private readonly redis?: Redis,
    private readonly redisPrefix = 'kp',
    private readonly flushIntervalMs = 5_000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.flushIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  /**
   * Counts `points` calls if they fit in the month's quota; `points = 0` only reads. In memory
   * mode, once the team-month is known, this answers synchronously (the hot path).
   */
  consume(teamId: string, plan: Plan, points: number, at = Date.now()): QuotaState | Promise<QuotaState> {
    const { month, resetAt } = this.clock.now(at);
    const key = `${teamId}|${month}`;
    const limit = this.limits[plan];
    if (!this.redis && this.totals.has(key)) {
      const [allowed, used] = this.consumeInMemory(key, points, limit);
      if (allowed && points > 0) this.pending.set(key, (this.pending.get(key) ?? 0) + points);
      return { allowed, used, limit, resetAt };
    }
    return this.consumeSlowly(key, teamId, month, limit, points, at, resetAt);
  }

  private async consumeSlowly(
    key: string,
    teamId: string,
    month: string,
    limit: number,
    points: number,
    at: number,
    resetAt: Date,
  ): Promise<QuotaState> {
    const seed = await this.seed(key, teamId, month);
    let allowed: boolean;
    let total: number;
    if (this.redis?.status === 'ready') {
      try {
        const ttl = Math.ceil((resetAt.getTime() - at) / 1000) + 86_400;
        const [ok, after] = (await this.redis.eval(CONSUME_SCRIPT, 1, `${this.redisPrefix}:quota:${key}`, points, limit, seed, ttl)) as [
          number,
          number,
        ];
        allowed = ok === 1;
        total = after;
        this.totals.set(key, Math.max(total, this.totals.get(key) ?? 0));
      } catch (error) {
        this.log.debug({ err: error }, 'quota: Redis call failed, counting in memory');
        [allowed, total] = this.consumeInMemory(key, points, limit);
      }
    } else {
      [allowed, total] = this.consumeInMemory(key, points, limit);
    }
    if (allowed && points > 0) this.pending.set(key, (this.pending.get(key) ?? 0) + points);
    return { allowed, used: total, limit, resetAt };
  }

  private consumeInMemory(key: string, points: number, limit: number): [boolean, number] {
    const current = this.totals.get(key) ?? 0;
    if (points > 0 && current + points > limit) return [false, current];
    this.totals.set(key, current + points);
    return [true, current + points];
  }

  /**
   * The best known count of a team-month: the database's, read once per process, then what this
   * instance has seen since. It seeds Redis when Redis has lost (or never had) the counter.
   */
  private async seed(key: string, teamId: string, month: string): Promise<number> {
    const known = this.totals.get(key);
    if (known !== undefined) return known;
    let pending = this.seeding.get(key);
    if (!pending) {
      pending = this.prisma.monthlyUsage.findUnique({ where: { teamId_month: { teamId, month } }, select: { used: true } }).then((row) => {
        if (!this.totals.has(key)) this.totals.set(key, row?.used ?? 0);
        this.seeding.delete(key);
        return row?.used ?? 0;
      });
      this.seeding.set(key, pending);
    }
    return pending;
  }

  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const teams: string[] = [];
    const months: string[] = [];
    const counts: number[] = [];
    for (const [key, n] of batch) {
      const [teamId, month] = key.split('|');
      teams.push(teamId);
      months.push(month);
      counts.push(n);
    }
    try {
      await this.prisma.$executeRawUnsafe(
        `INSERT INTO "MonthlyUsage" ("teamId", "month", "used")
           SELECT * FROM unnest($1::text[], $2::text[], $3::int[])
         ON CONFLICT ("teamId", "month") DO UPDATE SET "used" = "MonthlyUsage"."used" + EXCLUDED."used"`,
        teams,
        months,
        counts,
      );
    } catch (error) {
      for (const [key, n] of batch) this.pending.set(key, (this.pending.get(key) ?? 0) + n);
      this.log.error({ err: error }, 'could not write monthly usage; will retry');
    }
  }
}
