// Events between resolvers, subscribers and instances: yoga's in-process pub/sub by default, or
// Redis (@graphql-yoga/redis-event-target) when REDIS_URL is set, so that an event published on
// one instance reaches subscribers on every instance. Payloads are plain JSON for that reason
// (dates as ISO strings, records by id).
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { createPubSub } from 'graphql-yoga';
import type { Redis } from 'ioredis';
import type { KeyKind, RevocationReason } from '../generated/prisma/enums.js';
import type { KeyChange } from '../keys/events.js';

export interface ApiKeyGeneratedPayload {
  keyId: string;
  createdById: string;
}

export interface ApiKeyRevokedPayload {
  keyId: string;
  teamId: string;
  kind: KeyKind;
  ownerId: string;
  reason: RevocationReason;
  revokedAt: string;
  revokedById: string | null;
}

export interface NotificationAddedPayload {
  id: string;
  userId: string;
}

/** A key's state change, relayed to the other instances (caches and sockets). */
export interface KeyChangedMessage {
  origin: string;
  keyId: string;
  teamId: string;
  hash: string;
  change: KeyChange;
  expiresAt: string | null;
}

export type KeyplaneEvents = {
  /** by team; subscribers filter by what the viewer may see */
  apiKeyGenerated: [teamId: string, payload: ApiKeyGeneratedPayload];
  apiKeyRevoked: [teamId: string, payload: ApiKeyRevokedPayload];
  /** by recipient */
  notificationAdded: [userId: string, payload: NotificationAddedPayload];
  keyChanged: [payload: KeyChangedMessage];
  keyCreated: [payload: { origin: string; teamId: string }];
};

/** Channel names get a prefix, so that deployments (and test servers) can share one Redis. */
type EventTargetLike = ReturnType<typeof createRedisEventTarget<CustomEvent>>;

function prefixed(target: EventTargetLike, prefix: string): EventTargetLike {
  return {
    addEventListener: (type, listener) => target.addEventListener(prefix + type, listener),
    removeEventListener: (type, listener) => target.removeEventListener(prefix + type, listener),
    dispatchEvent: (event) => target.dispatchEvent(new CustomEvent(prefix + event.type, { detail: event.detail })),
  };
}

export function createKeyplanePubSub(redis?: { publish: Redis; subscribe: Redis; prefix: string }) {
  if (!redis) return createPubSub<KeyplaneEvents>();
  const target = createRedisEventTarget({ publishClient: redis.publish, subscribeClient: redis.subscribe });
  return createPubSub<KeyplaneEvents>({ eventTarget: prefixed(target, `${redis.prefix}events:`) });
}

export type KeyplanePubSub = ReturnType<typeof createKeyplanePubSub>;
