// Requests per key per window (SPEC §1: 60 per minute by default), with rate-limiter-flexible:
// in memory on one instance; in Redis across instances, with an in-memory insurance limiter
// that takes over while Redis is down.
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

export interface RateState {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** when the current window ends */
  resetAt: Date;
  retryAfterSeconds: number;
}

export function rateStateOf(res: RateLimiterRes, limit: number, allowed: boolean, now = Date.now()): RateState {
  return {
    allowed,
    limit,
    remaining: Math.max(0, res.remainingPoints),
    resetAt: new Date(now + res.msBeforeNext),
    retryAfterSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
  };
}

export class KeyRateLimiter {
  private readonly limiter: RateLimiterMemory | RateLimiterRedis;

  constructor(
    readonly limit: number,
    readonly windowSeconds: number,
    redis?: Redis,
    prefix = 'kp',
  ) {
    const options = { points: limit, duration: windowSeconds, keyPrefix: `${prefix}:rate` };
    this.limiter = redis
      ? new RateLimiterRedis({ ...options, storeClient: redis, insuranceLimiter: new RateLimiterMemory(options) })
      : new RateLimiterMemory(options);
  }

  /** Counts `points` operations for a key; over the limit, nothing more is allowed this window. */
  async consume(keyId: string, points = 1): Promise<RateState> {
    try {
      return rateStateOf(await this.limiter.consume(keyId, points), this.limit, true);
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return rateStateOf(rejection, this.limit, false);
      throw rejection;
    }
  }
}
