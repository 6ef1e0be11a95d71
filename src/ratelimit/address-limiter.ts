// Failed authentications per client address (bad keys, bad invitation tokens). Once an address
// has used up AUTH_FAILURES_PER_MINUTE, it gets 429 for anything that would need the database.
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

export class AuthFailureLimiter {
  private readonly limiter: RateLimiterMemory | RateLimiterRedis;

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
    return res && res.consumedPoints >= this.limit ? Math.max(1, Math.ceil(res.msBeforeNext / 1000)) : 0;
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
      return Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
    }
  }

  async refund(address: string): Promise<void> {
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
