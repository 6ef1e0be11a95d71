// One ioredis connection per purpose, with an honest log: "down" once, "back" once.
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

export function connectRedis(url: string, log: Logger, purpose: string): Redis {
  const redis = new Redis(url, {
    // Fail fast while Redis is down so that callers fall back at once instead of queueing.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  let down = false;
  redis.on('error', (error: Error) => {
    if (down) return;
    down = true;
    log.warn({ purpose, err: error.message }, 'Redis unavailable: falling back to in-process limits until it returns');
  });
  redis.on('ready', () => {
    if (!down) return;
    down = false;
    log.info({ purpose }, 'Redis is back: shared limits resumed');
  });
  return redis;
}
