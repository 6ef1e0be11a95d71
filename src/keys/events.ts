// Key state changes inside one instance: the verification cache and the open sockets listen.
// (Across instances realtime/key-event-bridge.ts relays them through the pub/sub.)
import { EventEmitter } from 'node:events';

/** Why a key no longer authenticates, or why its sockets must re-check it. */
export type KeyChange =
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
  /** the hash that stops working (for a regenerated key: the old one) */
  hash: string;
  change: KeyChange;
  expiresAt: Date | null;
  /** relayed from another instance (not to be relayed again) */
  remote?: boolean;
}

export class KeyEvents extends EventEmitter<{ changed: [KeyChangedEvent] }> {
  changed(event: KeyChangedEvent): void {
    this.emit('changed', event);
  }
}

export const CHANGE_MESSAGES: Record<Exclude<KeyChange, 'updated'>, string> = {
  regenerated: 'API key was regenerated',
  deleted: 'API key was deleted',
  disabled: 'API key was disabled',
  revoked: 'API key was revoked',
  expired: 'API key expired',
};
