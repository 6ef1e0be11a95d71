// Open graphql-ws sockets (and SSE subscriptions) by the key that authenticated them: a socket
// whose key stops working (regenerated, deleted, disabled, revoked, expired) is closed with 4401
// and the cause; an SSE subscription ends. A subscription that must deliver an event first (SPEC
// §4: apiKeyRevoked delivers its own key's revocation) holds the close until it has (`holdClose`,
// at most DELIVERY_GRACE_MS); the registry knows nothing of which subscriptions those are.
// Each connection remembers the secret (hash) it authenticated with: after a regeneration with an
// overlap (SPEC §5) those of the old secret stay open until the overlap's end, then close with
// 4401 "rotated"; those of the new secret are untouched.
import type { WebSocket } from 'ws';
import type { Principal } from '../auth/principal.js';
import { CHANGE_MESSAGES, type KeyChange, type KeyChanged } from '../keys/events.js';

export const CLOSE_UNAUTHENTICATED = 4401;
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How long a revoked key's socket waits for its revocation event before it is closed anyway. */
export const DELIVERY_GRACE_MS = 5_000;

/** A close reason must fit in 123 bytes. */
export function closeReason(text: string): string {
  const bytes = Buffer.from(text);
  return bytes.length <= 123
    ? text
    : `${bytes
        .subarray(0, 120)
        .toString('utf8')
        .replace(/\uFFFD+$/, '')}...`;
}

/** Why a connection on a previous secret closes when its overlap ends. */
export const ROTATED_MESSAGE = 'API key was rotated: the overlap of its previous secret ended';

/** The secret a connection authenticated with: its hash, and when it ends if it is a previous one. */
export type SecretUsed = Pick<Principal, 'keyHash' | 'previousUntil'>;

/** Changes that come with an apiKeyRevoked event: only those wait for the holds. */
const ANNOUNCED: ReadonlySet<KeyChange> = new Set(['deleted', 'revoked', 'expired']);

interface Tracked {
  socket: WebSocket;
  hash?: string;
  expiryTimer?: NodeJS.Timeout;
  /** the overlap's end, for a socket on a key's previous secret */
  rotationTimer?: NodeJS.Timeout;
  /** subscriptions on this socket holding its close until they have delivered (holdClose) */
  watchers: number;
  /** set once its key stopped working: the close waits until each holder has released it */
  closing?: { message: string; timer: NodeJS.Timeout; awaiting: number };
}

/** An SSE subscription (no socket to close): it is ended instead. */
interface TrackedStream {
  /** holds on its end (holdClose): it ends after the delivery grace rather than at once */
  holds: number;
  end: () => void;
  hash?: string;
  rotationTimer?: NodeJS.Timeout;
}

export class SocketRegistry {
  private readonly byKey = new Map<string, Map<WebSocket, Tracked>>();
  private readonly streams = new Map<string, Set<TrackedStream>>();
  private readonly bySocket = new WeakMap<WebSocket, Tracked>();
  /** SSE subscriptions by their connection (the request's context: one subscription each) */
  private readonly byConnection = new WeakMap<object, TrackedStream>();

  /** `onExpiryReached`: a key's expiry passed while sockets were open (the expiry job persists it now). */
  constructor(private readonly onExpiryReached: (keyId: string) => void = () => {}) {}

  /** Open authenticated sockets of this key (SOCKETS_PER_KEY caps them). */
  countFor(keyId: string): number {
    return this.byKey.get(keyId)?.size ?? 0;
  }

  get size(): number {
    let n = 0;
    for (const sockets of this.byKey.values()) n += sockets.size;
    return n;
  }

  add(keyId: string, socket: WebSocket, expiresAt: Date | null, secret?: SecretUsed): void {
    let sockets = this.byKey.get(keyId);
    if (!sockets) this.byKey.set(keyId, (sockets = new Map()));
    const tracked: Tracked = { socket, watchers: 0, hash: secret?.keyHash };
    sockets.set(socket, tracked);
    this.bySocket.set(socket, tracked);
    this.armExpiry(keyId, tracked, expiresAt);
    if (secret?.previousUntil) this.armRotation(tracked, secret.previousUntil);
    socket.once('close', () => {
      clearTimeout(tracked.expiryTimer);
      clearTimeout(tracked.rotationTimer);
      clearTimeout(tracked.closing?.timer);
      sockets.delete(socket);
      if (sockets.size === 0 && this.byKey.get(keyId) === sockets) this.byKey.delete(keyId);
    });
  }

  /**
   * A subscription of this connection (a subscription's context: its graphql-ws socket, or the
   * SSE request) that delivers its own key's revocation event before the connection closes: when
   * the key is revoked, deleted or expires, the close (or the SSE end) waits until every holder
   * has released its hold, for at most DELIVERY_GRACE_MS. Call the result once delivered or ended.
   */
  holdClose(ctx: object): () => void {
    const socket = (ctx as { socket?: WebSocket }).socket;
    const tracked = socket ? this.bySocket.get(socket) : undefined;
    const stream = socket ? undefined : this.byConnection.get(ctx);
    if (stream) stream.holds += 1;
    if (tracked) tracked.watchers += 1;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (stream) stream.holds -= 1;
      if (!tracked) return;
      tracked.watchers -= 1;
      // A holder that lets go while the socket waits for it no longer holds the close back.
      if (tracked.closing) {
        tracked.closing.awaiting -= 1;
        if (tracked.closing.awaiting <= 0) this.closeNow(tracked);
      }
    };
  }

  /** Whether the socket's key has stopped working (it may not start new operations). */
  isClosing(socket: WebSocket): boolean {
    return this.bySocket.get(socket)?.closing !== undefined;
  }

  /**
   * An SSE subscription of this key, by its context: `end` is called when the key stops working
   * (after the delivery grace when something holds it, see holdClose). Call the result when it ends.
   */
  trackStream(keyId: string, ctx: object, end: () => void, secret?: SecretUsed): () => void {
    let set = this.streams.get(keyId);
    if (!set) this.streams.set(keyId, (set = new Set()));
    const stream: TrackedStream = { holds: 0, end, hash: secret?.keyHash };
    set.add(stream);
    this.byConnection.set(ctx, stream);
    if (secret?.previousUntil) this.armStreamRotation(stream, secret.previousUntil);
    return () => {
      clearTimeout(stream.rotationTimer);
      set.delete(stream);
      if (this.byConnection.get(ctx) === stream) this.byConnection.delete(ctx);
      if (set.size === 0 && this.streams.get(keyId) === set) this.streams.delete(keyId);
    };
  }

  onKeyChanged(event: KeyChanged): void {
    // A key that expired by a team-wide expiry change: its event comes from the expiry job.
    if (event.change === 'expired' && (this.byKey.has(event.keyId) || this.streams.has(event.keyId))) {
      this.onExpiryReached(event.keyId);
    }
    // A regeneration leaves the new secret's connections alone, and those of the old one until
    // the end of its overlap, if it has one; any other secret of the key (an older previous one) ends.
    const until = event.change === 'regenerated' ? event.previousSecretExpiresAt : null;
    const overlapUntil = until && until.getTime() > Date.now() ? until : null;
    const kept = (hash: string | undefined): boolean =>
      event.change === 'regenerated' && hash !== undefined && (hash === event.newHash || (overlapUntil !== null && hash === event.hash));
    if (event.change !== 'updated') {
      for (const stream of this.streams.get(event.keyId) ?? []) {
        if (kept(stream.hash)) {
          if (overlapUntil && stream.hash === event.hash) this.armStreamRotation(stream, overlapUntil);
          continue;
        }
        if (stream.holds > 0 && ANNOUNCED.has(event.change)) setTimeout(stream.end, DELIVERY_GRACE_MS).unref();
        else stream.end();
      }
    }
    const sockets = this.byKey.get(event.keyId);
    if (!sockets) return;
    for (const tracked of sockets.values()) {
      if (event.change === 'updated') this.armExpiry(event.keyId, tracked, event.expiresAt);
      else if (!kept(tracked.hash)) this.close(tracked, CHANGE_MESSAGES[event.change], ANNOUNCED.has(event.change));
      else if (overlapUntil && tracked.hash === event.hash) this.armRotation(tracked, overlapUntil);
    }
  }

  /** A socket on a previous secret closes at the overlap's end (the secret fails from then on). */
  private armRotation(tracked: Tracked, until: Date): void {
    clearTimeout(tracked.rotationTimer);
    const check = () => {
      const left = until.getTime() - Date.now();
      if (left > 0) tracked.rotationTimer = setTimeout(check, Math.min(left, MAX_TIMER_MS)).unref();
      else this.close(tracked, ROTATED_MESSAGE, false);
    };
    check();
  }

  private armStreamRotation(stream: TrackedStream, until: Date): void {
    clearTimeout(stream.rotationTimer);
    stream.rotationTimer = setTimeout(stream.end, Math.max(until.getTime() - Date.now(), 0)).unref();
  }

  private close(tracked: Tracked, message: string, announced: boolean): void {
    clearTimeout(tracked.expiryTimer);
    clearTimeout(tracked.rotationTimer);
    if (tracked.closing) return;
    tracked.closing = {
      message,
      timer: setTimeout(() => this.closeNow(tracked), DELIVERY_GRACE_MS).unref(),
      awaiting: tracked.watchers,
    };
    if (!announced || tracked.watchers === 0) this.closeNow(tracked);
  }

  private closeNow(tracked: Tracked): void {
    clearTimeout(tracked.closing?.timer);
    SocketRegistry.refuse(tracked.socket, tracked.closing?.message ?? CHANGE_MESSAGES.revoked);
  }

  private armExpiry(keyId: string, tracked: Tracked, expiresAt: Date | null): void {
    clearTimeout(tracked.expiryTimer);
    tracked.expiryTimer = undefined;
    if (!expiresAt) return;
    const check = () => {
      const left = expiresAt.getTime() - Date.now();
      if (left > 0) {
        tracked.expiryTimer = setTimeout(check, Math.min(left, MAX_TIMER_MS)).unref();
        return;
      }
      // The revocation event comes from the expiry job, asked to persist the expiry right away.
      this.close(tracked, CHANGE_MESSAGES.expired, true);
      this.onExpiryReached(keyId);
    };
    check();
  }

  static refuse(socket: WebSocket, message: string): void {
    socket.close(CLOSE_UNAUTHENTICATED, closeReason(`Unauthenticated: ${message}`));
  }
}
