// Key state changes: the verification cache, the key index and the open sockets listen. Local
// changes are announced here synchronously once committed; every change, from any process on the
// database, also arrives through keys/change-feed.ts (PostgreSQL NOTIFY sent by a trigger).
// Listeners are idempotent: a local change is seen twice (its own announcement and its echo).
import { EventEmitter } from 'node:events';
import type { RevocationReason } from '../generated/prisma/enums.js';

/** Why a key no longer authenticates, or why its sockets must re-check it. */
export type KeyChange =
  | 'created'
  | 'regenerated'
  | 'deleted'
  | 'disabled'
  | 'revoked'
  | 'expired'
  /** still valid, but its expiry or status changed: caches re-read it, sockets re-arm timers */
  | 'updated';

export interface KeyChangedEvent {
  keyId: string;
  teamId: string;
  /** the hash that stops working (for a regenerated key: the old one; for a created key: its own) */
  hash: string;
  /** a hash that starts working (created, regenerated) */
  newHash?: string;
  /** regenerated with an overlap: `hash` (the old secret) keeps working until then (SPEC §5) */
  previousSecretExpiresAt?: Date | null;
  change: KeyChange;
  expiresAt: Date | null;
  /** came from the database's change feed (possibly the echo of a local change) */
  remote?: boolean;
}

export class KeyEvents extends EventEmitter<{ changed: [KeyChangedEvent] }> {
  changed(event: KeyChangedEvent): void {
    this.emit('changed', event);
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
