// With several instances, a key change on one must reach the others' verification caches and
// sockets (within a second: the cache would otherwise keep a revoked key for its 10 s TTL).
// Local changes are relayed through the pub/sub; relayed ones are replayed on the local KeyEvents.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { KeyEvents } from '../keys/events.js';
import type { KeyplanePubSub } from './pubsub.js';

export function bridgeKeyEvents(keyEvents: KeyEvents, pubsub: KeyplanePubSub, log: Logger): { stop(): Promise<void> } {
  const origin = randomUUID();
  keyEvents.on('changed', (event) => {
    if (event.remote) return;
    pubsub.publish('keyChanged', { ...event, origin, expiresAt: event.expiresAt?.toISOString() ?? null });
  });
  const changes = pubsub.subscribe('keyChanged');
  const relay = (async () => {
    for await (const { origin: from, ...event } of changes) {
      if (from === origin) continue;
      keyEvents.changed({ ...event, expiresAt: event.expiresAt ? new Date(event.expiresAt) : null, remote: true });
    }
  })().catch((error: unknown) => log.error({ err: error }, 'key events relay stopped'));
  return {
    async stop() {
      await changes.return();
      await relay;
    },
  };
}
