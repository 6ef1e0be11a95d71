// Events between resolvers, subscribers and instances: yoga's in-process pub/sub by default, or
// Redis (@graphql-yoga/redis-event-target) when REDIS_URL is set, so that an event published on
// one instance reaches subscribers on every instance. Payloads are plain JSON for that reason
// (dates as ISO strings, records by id). Key changes, apiKeyRevoked among them, do not travel
// here: they follow keys/events.ts, fed by the database's change feed on every instance.
import { setMaxListeners } from 'node:events';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { FixedBuffer, Repeater } from 'graphql-yoga';
import type { Redis } from 'ioredis';

export interface ApiKeyGeneratedPayload {
  keyId: string;
  createdById: string;
}

export interface ApiKeyExpiringPayload {
  keyId: string;
  expiresAt: string;
  daysLeft: number;
}

export interface NotificationAddedPayload {
  id: string;
  userId: string;
}

export type KeyplaneEvents = {
  /** by team; subscribers filter by what the viewer may see */
  apiKeyGenerated: [teamId: string, payload: ApiKeyGeneratedPayload];
  /** by recipient */
  notificationAdded: [userId: string, payload: NotificationAddedPayload];
  /** by the key's owner */
  apiKeyExpiring: [userId: string, payload: ApiKeyExpiringPayload];
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

/**
 * Events a subscriber may have waiting: a bulk revocation publishes one event per key (10,000 at
 * most per call), and a subscriber that falls further behind is ended with an error rather than
 * let the server's memory grow.
 */
export const SUBSCRIBER_BUFFER = 20_000;

type Args<K extends keyof KeyplaneEvents> = KeyplaneEvents[K];
type Payload<K extends keyof KeyplaneEvents> = Args<K> extends [string, infer P] ? P : Args<K>[0];

/**
 * yoga's createPubSub, with a buffer per subscriber (its own streams hold at most 1,024 pending
 * events and then throw inside the publisher).
 */
export function createKeyplanePubSub(redis?: { publish: Redis; subscribe: Redis; prefix: string }) {
  const local = new EventTarget();
  setMaxListeners(0, local); // a listener per subscriber: thousands are expected, not a leak
  const target: EventTargetLike = redis
    ? prefixed(createRedisEventTarget({ publishClient: redis.publish, subscribeClient: redis.subscribe }), `${redis.prefix}events:`)
    : local;
  const topicOf = (name: string, id?: string) => (id === undefined ? name : `${name}:${id}`);
  return {
    publish<K extends keyof KeyplaneEvents>(name: K, ...args: Args<K>): void {
      const [id, payload] = args.length === 2 ? (args as [string, unknown]) : [undefined, args[0]];
      target.dispatchEvent(new CustomEvent(topicOf(name, id), { detail: payload }));
    },
    subscribe<K extends keyof KeyplaneEvents>(name: K, ...id: Args<K> extends [string, unknown] ? [id: string] : []): Repeater<Payload<K>> {
      const topic = topicOf(name, id[0]);
      return new Repeater<Payload<K>>((push, stop) => {
        const listener = (event: Event) => {
          try {
            void push((event as CustomEvent<Payload<K>>).detail);
          } catch (error) {
            stop(error); // too far behind: this subscription ends with an error
          }
        };
        target.addEventListener(topic, listener);
        void stop.then(() => target.removeEventListener(topic, listener));
      }, new FixedBuffer(SUBSCRIBER_BUFFER));
    },
  };
}

export type KeyplanePubSub = ReturnType<typeof createKeyplanePubSub>;
