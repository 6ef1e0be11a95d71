// One ioredis connection per purpose, with an honest log: "down" once, "back" once.
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * `queueWhileDown`: for pub/sub, whose commands (SUBSCRIBE, PUBLISH) should wait for Redis to
 * return; limits instead fail fast so that callers fall back at once.
 */
export function connectRedis(url: string, log: Logger, purpose: string, { queueWhileDown = false } = {}): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: queueWhileDown,
    maxRetriesPerRequest: queueWhileDown ? null : 1,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  let down = false;
  redis.on('error', (error: Error) => {
    if (down) return;
    down = true;
    log.warn(
      { purpose, err: error.message },
      queueWhileDown
        ? `Redis unreachable for ${purpose}: they wait until it returns`
        : `Redis unavailable: ${purpose} fall back to in-process ones until it returns`,
    );
  });
  redis.on('ready', () => {
    if (!down) return;
    down = false;
    log.info({ purpose }, `Redis is back for ${purpose}`);
  });
  return redis;
}
