// Failed authentications per client address (bad keys, bad invitation tokens). Once an address
// has used up AUTH_FAILURES_PER_MINUTE, it gets 429 for anything that would need the database.
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

/** Addresses remembered as blocked, at most (a flood from many addresses only forgets some). */
const MAX_REMEMBERED = 100_000;

/** The refusal an address hears once it used up its failures (keys and invitation tokens alike). */
export const tooManyFailuresMessage = (seconds: number) => `Too many failed authentications from this address: retry in ${seconds} s`;

export class AuthFailureLimiter {
  private readonly limiter: RateLimiterMemory | RateLimiterRedis;
  /** address → when its block ends, as the limiter last said: lets a guess be refused with no I/O. */
  private readonly blockedUntil = new Map<string, number>();

  constructor(
    private readonly limit: number,
    redis?: Redis,
    prefix = 'kp',
  ) {
    const options = { points: limit, duration: 60, keyPrefix: `${prefix}:authfail` };
    this.limiter = redis
      ? new RateLimiterRedis({ ...options, storeClient: redis, insuranceLimiter: new RateLimiterMemory(options) })
      : new RateLimiterMemory(options);
  }

  /** Seconds until the address may try again, or 0 when it is not blocked. */
  async blockedFor(address: string): Promise<number> {
    const res = await this.limiter.get(address);
    if (!res || res.consumedPoints < this.limit) return 0;
    this.remember(address, res.msBeforeNext);
    return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
  }

  /**
   * Seconds left of a block this process has already seen for the address (0: none known). A
   * fixed window only gains failures until it ends, so a block seen stays true until then.
   */
  knownBlockedFor(address: string, now = Date.now()): number {
    const until = this.blockedUntil.get(address);
    if (until === undefined) return 0;
    if (until <= now) {
      this.blockedUntil.delete(address);
      return 0;
    }
    return Math.max(1, Math.ceil((until - now) / 1000));
  }

  private remember(address: string, msBeforeNext: number) {
    if (this.blockedUntil.size >= MAX_REMEMBERED) this.blockedUntil.clear();
    this.blockedUntil.set(address, Date.now() + msBeforeNext);
  }

  /**
   * Before a database read for a key that is probably a guess: counts a failure in advance,
   * atomically (a burst of concurrent guesses cannot all slip in before the first is counted), and
   * answers 0, or the seconds to wait when the address had used up its failures (no read then).
   * A key that turns out valid gives its point back with `refund`.
   */
  async reserve(address: string): Promise<number> {
    try {
      await this.limiter.consume(address);
      return 0;
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      this.remember(address, rejection.msBeforeNext);
      return Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
    }
  }

  async refund(address: string): Promise<void> {
    this.blockedUntil.delete(address);
    await this.limiter.reward(address, 1);
  }

  /** Records a failure: the request that makes it still gets its 401; the next ones get 429. */
  async recordFailure(address: string): Promise<void> {
    try {
      await this.limiter.consume(address);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
    }
  }
}
