// Open graphql-ws sockets by the key that authenticated them: a socket whose key stops working
// (regenerated, deleted, disabled, revoked, expired) is closed with 4401 and the cause.
import type { WebSocket } from 'ws';
import { CHANGE_MESSAGES, type KeyChangedEvent } from '../keys/events.js';

export const CLOSE_UNAUTHENTICATED = 4401;
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A close reason must fit in 123 bytes. */
export function closeReason(text: string): string {
  const bytes = Buffer.from(text);
  return bytes.length <= 123 ? text : `${bytes.subarray(0, 120).toString('utf8').replace(/\uFFFD+$/, '')}...`;
}

interface Tracked {
  socket: WebSocket;
  timer?: NodeJS.Timeout;
}

export class SocketRegistry {
  private readonly byKey = new Map<string, Map<WebSocket, Tracked>>();

  get size(): number {
    let n = 0;
    for (const sockets of this.byKey.values()) n += sockets.size;
    return n;
  }

  add(keyId: string, socket: WebSocket, expiresAt: Date | null): void {
    let sockets = this.byKey.get(keyId);
    if (!sockets) this.byKey.set(keyId, (sockets = new Map()));
    const tracked: Tracked = { socket };
    sockets.set(socket, tracked);
    this.armExpiry(tracked, expiresAt);
    socket.once('close', () => {
      clearTimeout(tracked.timer);
      sockets.delete(socket);
      if (sockets.size === 0 && this.byKey.get(keyId) === sockets) this.byKey.delete(keyId);
    });
  }

  onKeyChanged(event: KeyChangedEvent): void {
    const sockets = this.byKey.get(event.keyId);
    if (!sockets) return;
    for (const tracked of sockets.values()) {
      if (event.change === 'updated') this.armExpiry(tracked, event.expiresAt);
      else SocketRegistry.refuse(tracked.socket, CHANGE_MESSAGES[event.change]);
    }
  }

  private armExpiry(tracked: Tracked, expiresAt: Date | null): void {
    clearTimeout(tracked.timer);
    tracked.timer = undefined;
    if (!expiresAt) return;
    const check = () => {
      const left = expiresAt.getTime() - Date.now();
      if (left <= 0) SocketRegistry.refuse(tracked.socket, CHANGE_MESSAGES.expired);
      else tracked.timer = setTimeout(check, Math.min(left, MAX_TIMER_MS)).unref();
    };
    check();
  }

  static refuse(socket: WebSocket, message: string): void {
    socket.close(CLOSE_UNAUTHENTICATED, closeReason(`Unauthenticated: ${message}`));
  }
}
