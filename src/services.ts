// Builds the long-lived services once per server and hands them to every request's context.
import type { Logger } from 'pino';
import { Authenticator } from './auth/authenticator.js';
import { LastUsedRecorder } from './auth/last-used.js';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import type { PrismaClient } from './generated/prisma/client.js';
import { KeyService } from './keys/service.js';
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
}

export function createServices(config: Config, db: Database, log: Logger): Services {
  const prisma = db.prisma;
  const lastUsed = new LastUsedRecorder(prisma, (error) =>
    log.error({ err: error }, 'could not write lastUsedAt; will retry'),
  );
  return {
    config,
    log,
    prisma,
    db,
    lastUsed,
    auth: new Authenticator(prisma, lastUsed, { pepper: config.keyPepper }),
    pubsub: createKeyplanePubSub(),
    keys: new KeyService(prisma, config.keyPepper),
  };
}
