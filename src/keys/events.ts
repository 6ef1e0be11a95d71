// One event for a key change (KeyChanged) and one bus for it (KeyChanges), which the verification
// cache, the socket registry and the apiKeyRevoked subscription all follow. A change reaches the
// bus twice and is delivered once: the process that made it publishes it as soon as it has
// committed (it stops working here before the mutation answers), and the database's change feed
// (keys/change-feed.ts: a trigger's NOTIFY, on every instance, Redis or not) brings it again; the
// second copy has the same identity and is dropped. Changes made elsewhere (another instance,
// `keyplane bootstrap`) arrive through the feed alone.
import { EventEmitter } from 'node:events';
import { FixedBuffer, Repeater } from 'graphql-yoga';
import type { ApiKey } from '../generated/prisma/client.js';
import type { ApiKeyStatus, KeyKind, RevocationReason } from '../generated/prisma/enums.js';
import { SUBSCRIBER_BUFFER } from '../realtime/pubsub.js';

/** Why a key no longer authenticates, or why its sockets must re-check it. */
export type KeyChange =
  | 'created'
  | 'regenerated'
  | 'deleted'
  | 'disabled'
  | 'revoked'
  | 'expired'
  /** still valid, but its expiry, status or name changed: caches re-read it, sockets re-arm timers */
  | 'updated';

export interface KeyChanged {
  /** The change's identity: its local publication and its echo from the feed carry the same. */
  id: string;
  change: KeyChange;
  keyId: string;
  teamId: string;
  keyKind: KeyKind;
  /** The key's owner (a collection access key: its creator). */
  ownerId: string;
  /** the hash that stops working (for a regenerated key: the old one; for a created key: its own) */
  hash: string;
  /** a hash that starts working (created, regenerated) */
  newHash?: string;
  /** regenerated with an overlap: `hash` (the old secret) keeps working until then (SPEC §5) */
  previousSecretExpiresAt?: Date | null;
  status: ApiKeyStatus;
  expiresAt: Date | null;
  /** Set when this change revoked the key for good: what apiKeyRevoked tells. */
  revocation?: { reason: RevocationReason; revokedAt: Date; revokedById: string | null };
}

/** A change that revoked its key (the apiKeyRevoked event). */
export type KeyRevoked = KeyChanged & Required<Pick<KeyChanged, 'revocation'>>;

/** The columns a change is told from: the key's row as the change left it. */
export type KeyRow = Pick<
  ApiKey,
  | 'id'
  | 'teamId'
  | 'kind'
  | 'createdById'
  | 'hash'
  | 'status'
  | 'expiresAt'
  | 'updatedAt'
  | 'revokedAt'
  | 'revocationReason'
  | 'revokedById'
>;

/** Prisma's select of a KeyRow. */
export const KEY_ROW = {
  id: true,
  teamId: true,
  kind: true,
  createdById: true,
  hash: true,
  status: true,
  expiresAt: true,
  updatedAt: true,
  revokedAt: true,
  revocationReason: true,
  revokedById: true,
} as const satisfies Record<keyof KeyRow, true>;

/** The changes that end a key for good when they leave it REVOKED (they come with apiKeyRevoked). */
const REVOKING: ReadonlySet<KeyChange> = new Set(['deleted', 'revoked', 'expired']);

/**
 * The event for a change that left the key as `row`. Its identity is the row's state (every write
 * that announces a change sets "updatedAt"), which the feed's copy reads the same way.
 */
export function keyChanged(row: KeyRow, change: KeyChange, hashes: { stopped?: string; started?: string } = {}): KeyChanged {
  const revoked = REVOKING.has(change) && row.status === 'REVOKED';
  return {
    id: [row.id, row.updatedAt.getTime(), row.status, row.hash, row.expiresAt?.getTime() ?? ''].join(':'),
    change,
    keyId: row.id,
    teamId: row.teamId,
    keyKind: row.kind,
    ownerId: row.createdById,
    hash: hashes.stopped ?? row.hash,
    ...(hashes.started ? { newHash: hashes.started } : {}),
    status: row.status,
    expiresAt: row.expiresAt,
    ...(revoked
      ? {
          revocation: {
            reason: row.revocationReason ?? 'REVOKED_BY_ADMIN',
            revokedAt: row.revokedAt ?? row.updatedAt,
            revokedById: row.revokedById,
          },
        }
      : {}),
  };
}

/**
 * How long a delivered change's identity is kept to recognise its other copies (the feed's echo,
 * a replay after the feed was lost).
 */
const REMEMBER_MS = 60_000;

export class KeyChanges extends EventEmitter<{ changed: [KeyChanged] }> {
  /** identities delivered in the last REMEMBER_MS, oldest first */
  private readonly deliveredAt = new Map<string, number>();
  private readonly streams = new Map<string, Set<(event: KeyChanged) => void>>();

  constructor() {
    super();
    this.setMaxListeners(0); // tests and tools listen too; subscriptions use streams (by team)
  }

  /** Whether a change of this identity was delivered already (its other copies are dropped). */
  delivered(id: string): boolean {
    return this.deliveredAt.has(id);
  }

  /**
   * Delivers the change, synchronously: first to the listeners of 'changed' (the cache, the
   * sockets), then to the team's streams. Its other copies are dropped.
   */
  publish(event: KeyChanged): void {
    if (this.deliveredAt.has(event.id)) return;
    const now = Date.now();
    this.deliveredAt.set(event.id, now);
    for (const [id, at] of this.deliveredAt) {
      if (now - at < REMEMBER_MS) break;
      this.deliveredAt.delete(id);
    }
    this.emit('changed', event);
    for (const push of this.streams.get(event.teamId) ?? []) push(event);
  }

  /**
   * The team's changes that pass `accept`, for subscriptions (no Redis needed: the feed brings
   * every instance's changes). Up to SUBSCRIBER_BUFFER wait per subscriber; one that falls further
   * behind ends with an error.
   */
  stream<T extends KeyChanged>(teamId: string, accept: (event: KeyChanged) => event is T): Repeater<T> {
    return new Repeater<T>((push, stop) => {
      const listener = (event: KeyChanged) => {
        if (!accept(event)) return;
        try {
          void push(event);
        } catch (error) {
          stop(error);
        }
      };
      const listeners = this.streams.get(teamId) ?? new Set();
      this.streams.set(teamId, listeners);
      listeners.add(listener);
      void stop.then(() => {
        listeners.delete(listener);
        if (listeners.size === 0 && this.streams.get(teamId) === listeners) this.streams.delete(teamId);
      });
    }, new FixedBuffer(SUBSCRIBER_BUFFER));
  }
}

export const CHANGE_MESSAGES: Record<Exclude<KeyChange, 'updated'>, string> = {
  created: 'API key was created', // sockets are not told of creations (services.ts)
  regenerated: 'API key was regenerated',
  deleted: 'API key was deleted',
  disabled: 'API key was disabled',
  revoked: 'API key was revoked',
  expired: 'API key expired',
};

export const CHANGE_BY_REASON: Record<RevocationReason, KeyChange> = {
  REVOKED_BY_OWNER: 'deleted',
  REVOKED_BY_ADMIN: 'revoked',
  EXPIRED: 'expired',
  EXPOSED: 'revoked',
  COLLECTION_DELETED: 'revoked',
  DEPROVISIONED: 'revoked',
};
