// Events between resolvers and subscribers. In-process by default (one instance).
import { createPubSub } from 'graphql-yoga';
import type { ApiKey } from '../generated/prisma/client.js';

export type KeyplaneEvents = {
  /** Channel per team; subscribers filter by what the viewer may see. */
  apiKeyGenerated: [teamId: string, payload: ApiKey];
};

export function createKeyplanePubSub() {
  return createPubSub<KeyplaneEvents>();
}

export type KeyplanePubSub = ReturnType<typeof createKeyplanePubSub>;
