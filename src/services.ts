// Builds the long-lived services once per server and hands them to every request's context.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Authenticator } from './auth/authenticator.js';
import { LastUsedRecorder } from './auth/last-used.js';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import type { PrismaClient } from './generated/prisma/client.js';
import { KeyEvents } from './keys/events.js';
import { KeyLifecycle } from './keys/lifecycle.js';
import { KeyService } from './keys/service.js';
import { SocketRegistry } from './realtime/socket-registry.js';
import { RevocationService } from './revocation/service.js';
import { InvitationService } from './teams/invitations.js';
import { CollectionService } from './collections/service.js';
import { TeamKeyQuery } from './keys/team-key-query.js';
import { ExpiryJob } from './revocation/expiry-job.js';
import { SettingsService } from './teams/settings-service.js';
import { Metrics } from './observability/metrics.js';
import { AuthFailureLimiter } from './ratelimit/address-limiter.js';
import { KeyRateLimiter } from './ratelimit/key-limiter.js';
import { MonthlyQuota } from './ratelimit/quota.js';
import { SubscriptionCap } from './ratelimit/subscriptions.js';
import { createKeyplanePubSub, type KeyplanePubSub } from './realtime/pubsub.js';

export interface Services {
  config: Config;
  log: Logger;
  prisma: PrismaClient;
  db: Database;
  auth: Authenticator;
  lastUsed: LastUsedRecorder;
  pubsub: KeyplanePubSub;
  keys: KeyService;
  keyEvents: KeyEvents;
  lifecycle: KeyLifecycle;
  revocation: RevocationService;
  invitations: InvitationService;
  collections: CollectionService;
  teamKeys: TeamKeyQuery;
  settings: SettingsService;
  expiryJob: ExpiryJob;
  sockets: SocketRegistry;
  rateLimiter: KeyRateLimiter;
  quota: MonthlyQuota;
  authFailures: AuthFailureLimiter;
  subscriptions: SubscriptionCap;
  metrics: Metrics;
  redis?: Redis;
}

export function createServices(config: Config, db: Database, log: Logger, redis?: Redis): Services {
  const prisma = db.prisma;
  const lastUsed = new LastUsedRecorder(prisma, (error) =>
    log.error({ err: error }, 'could not write lastUsedAt; will retry'),
  );
  const auth = new Authenticator(prisma, lastUsed, { pepper: config.keyPepper });
  const keyEvents = new KeyEvents();
  const keys = new KeyService(prisma, config.keyPepper, keyEvents);
  const revocation = new RevocationService(prisma, keyEvents);
  const sockets = new SocketRegistry();
  const subscriptions = new SubscriptionCap(config.subscriptionsPerKey);
  // A key that changed is re-verified on its next use; its sockets are closed or re-armed.
  keyEvents.on('changed', (event) => {
    auth.forget(event.hash);
    sockets.onKeyChanged(event);
  });
  return {
    config,
    log,
    prisma,
    db,
    lastUsed,
    auth,
    pubsub: createKeyplanePubSub(),
    keys,
    keyEvents,
    revocation,
    lifecycle: new KeyLifecycle(prisma, keys, revocation, keyEvents, config.keyPepper),
    invitations: new InvitationService(prisma, keys),
    collections: new CollectionService(prisma, revocation, config.keyPepper),
    teamKeys: new TeamKeyQuery(prisma, (key) => auth.hash(key), keyEvents),
    settings: new SettingsService(prisma, keyEvents),
    expiryJob: new ExpiryJob(revocation, log),
    sockets,
    rateLimiter: new KeyRateLimiter(config.rateLimitPerWindow, config.rateLimitWindowSeconds, redis, config.redisKeyPrefix),
    quota: new MonthlyQuota(prisma, config.monthlyQuota, log, redis, config.redisKeyPrefix),
    authFailures: new AuthFailureLimiter(config.authFailuresPerMinute, redis, config.redisKeyPrefix),
    subscriptions,
    metrics: new Metrics({
      cacheHits: () => auth.hits,
      cacheMisses: () => auth.lookups,
      openSubscriptions: () => subscriptions.total,
    }),
    redis,
  };
}
