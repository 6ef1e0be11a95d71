// Key changes made by any process on the database (this instance, another one, `keyplane
// bootstrap`), as the NOTIFYs of the trigger in migration key_change_notify (its payload since
// key_change_event): sent in the changing transaction, delivered on commit, with or without Redis
// (SPEC §5). Each is published on the KeyChanges bus (keys/events.ts: the verification cache, the
// key index, the sockets and the apiKeyRevoked subscriptions follow it; the echo of a change this
// process published already is dropped there). Member and
// team changes (migration caller_change_notify) come on the same channel and drop the cached
// verifications that hold those rows (the cache answers `viewer`, roles and plans). While the
// channel is lost (PostgreSQL only), the cache keeps verifications at most 1 s; once it is back,
// the cache starts over, the index is reloaded and the revocations made meanwhile are published
// (apiKeyRevoked and the sockets' close come late, not never). The index is also reconciled
// periodically.
import type { Logger } from 'pino';
import type { Authenticator } from '../auth/authenticator.js';
import type { Database } from '../db/database.js';
import type { Subscription } from '../db/listener.js';
import type { ApiKeyStatus, KeyKind, RevocationReason } from '../generated/prisma/enums.js';
import type { Tracing } from '../observability/tracing.js';
import { CHANGE_BY_REASON, KEY_ROW, type KeyChanged, type KeyChanges, type KeyRow, keyChanged } from './events.js';
import { withOverlap } from './rotation.js';

export const KEY_CHANGES_CHANNEL = 'keyplane_key_changes';
const RECONCILE_MS = 10 * 60_000;
/** Until the index has loaded once, its load is retried after 1 s, doubling up to 30 s. */
const FIRST_LOAD_RETRY_MS = 1_000;
const FIRST_LOAD_RETRY_MAX_MS = 30_000;
/** Revocations are replayed from this long before the loss was noticed (a silent loss takes ~6 s). */
const REPLAY_MARGIN_MS = 10_000;

/** The payload of the member and team triggers (migration caller_change_notify). */
interface CallerChangeNotice {
  op: 'USER' | 'TEAM';
  id: string;
}

/** The key trigger's payload (migration key_change_event): the row as the change left it. */
interface KeyChangeNotice {
  op: 'I' | 'U' | 'D';
  id: string;
  teamId: string;
  kind: KeyKind;
  createdById: string;
  hash: string;
  oldHash: string | null;
  status: ApiKeyStatus;
  oldStatus: ApiKeyStatus | null;
  reason: RevocationReason | null;
  revokedAt: string | null;
  revokedById: string | null;
  expiresAt: string | null;
  updatedAt: string;
  /** the W3C traceparent of the revocation that made the change, when it was traced (migration key_change_trace) */
  traceparent?: string | null;
}

const dateOf = (iso: string | null) => (iso === null ? null : new Date(iso));

/** What a row change means for authentication (null: nothing). */
export function eventOf(n: KeyChangeNotice, now = Date.now()): KeyChanged | null {
  const row: KeyRow = {
    id: n.id,
    teamId: n.teamId,
    kind: n.kind,
    createdById: n.createdById,
    hash: n.hash,
    status: n.status,
    expiresAt: dateOf(n.expiresAt),
    updatedAt: new Date(n.updatedAt),
    revokedAt: dateOf(n.revokedAt),
    revocationReason: n.reason,
    revokedById: n.revokedById,
  };
  if (n.op === 'I') return n.status === 'REVOKED' ? null : keyChanged(row, 'created', { started: n.hash });
  if (n.op === 'D') {
    // The row is gone (not revoked: no apiKeyRevoked); nothing here publishes deletions itself.
    const { revocation: _, ...gone } = keyChanged(row, 'deleted');
    return { ...gone, id: `${gone.id}:gone` };
  }
  if (n.status === 'REVOKED') {
    if (n.oldStatus === 'REVOKED') return null;
    return keyChanged(row, CHANGE_BY_REASON[n.reason ?? 'REVOKED_BY_ADMIN'], { stopped: n.oldHash ?? n.hash });
  }
  if (n.oldHash) return keyChanged(row, 'regenerated', { stopped: n.oldHash, started: n.hash });
  if (n.status === 'DISABLED' && n.oldStatus !== 'DISABLED') return keyChanged(row, 'disabled');
  return keyChanged(row, row.expiresAt && row.expiresAt.getTime() <= now ? 'expired' : 'updated');
}

export class KeyChangeFeed {
  private subscription?: Subscription;
  private timer?: NodeJS.Timeout;
  private mode: 'listening' | 'lost' | null = null;
  private stopped = false;
  private firstLoadRetry?: NodeJS.Timeout;
  private firstLoadBackoff = FIRST_LOAD_RETRY_MS;
  /** keyId → its events still waiting behind a regeneration's read of the overlap (kept in order) */
  private readonly queued = new Map<string, Promise<void>>();
  /** when the channel was last (re)established: what came earlier was delivered or predates this process */
  private listeningSince = 0;
  /** set while the channel is lost: revocations since then are replayed once it is back */
  private missedSince?: Date;

  constructor(
    private readonly db: Database,
    private readonly changes: KeyChanges,
    private readonly auth: Authenticator,
    private readonly log: Logger,
    private readonly options: { reconcileMs?: number; tracing?: Tracing } = {},
  ) {}

  async start(): Promise<void> {
    this.subscription = await this.db.listen(KEY_CHANGES_CHANNEL, {
      payload: (payload) => this.onPayload(payload),
      state: (state) => this.onState(state),
    });
    if (this.stopped) {
      await this.subscription.close();
      return;
    }
    this.timer = setInterval(() => void this.reconcile(), this.options.reconcileMs ?? RECONCILE_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.firstLoadRetry);
    await this.subscription?.close();
  }

  /** Reloads the index of live keys from the database (changes meanwhile are replayed). */
  async reconcile(): Promise<void> {
    try {
      await this.auth.index.reload(this.db.prisma);
    } catch (error) {
      if (this.stopped) return;
      this.log.error({ err: error }, 'could not load the key index; will retry');
      // Never loaded: every guess costs a counted read meanwhile, so it is retried soon, not in
      // 10 minutes (one retry pending at a time).
      if (!this.auth.index.loaded && !this.firstLoadRetry) {
        this.firstLoadRetry = setTimeout(() => {
          this.firstLoadRetry = undefined;
          if (!this.stopped && !this.auth.index.loaded) void this.reconcile();
        }, this.firstLoadBackoff);
        this.firstLoadRetry.unref();
        this.firstLoadBackoff = Math.min(this.firstLoadBackoff * 2, FIRST_LOAD_RETRY_MAX_MS);
      }
    }
  }

  private onState(state: 'up' | 'down'): void {
    if (this.stopped) return;
    if (state === 'up') {
      // Whatever happened while not listening is read again: the cache starts over, the index
      // reloads, the revocations are published (those delivered already are dropped by the bus).
      if (this.mode === 'lost') this.auth.setChangesFollowed(true);
      if (this.missedSince) void this.replayRevocations(this.missedSince);
      this.missedSince = undefined;
      this.listeningSince = Date.now();
      if (this.mode !== 'listening') {
        this.log.info('key changes: LISTEN/NOTIFY');
      }
      this.mode = 'listening';
      void this.reconcile();
    } else {
      this.missedSince ??= new Date(Math.max(Date.now() - REPLAY_MARGIN_MS, this.listeningSince));
      this.auth.setChangesFollowed(false);
      if (!this.auth.index.loaded) void this.reconcile();
      if (this.mode !== 'lost') this.log.warn('key changes: LISTEN/NOTIFY lost, cache TTL 1 s');
      this.mode = 'lost';
    }
  }

  /**
   * Publishes the revocations written since `since` (by the writers' clocks: the margin covers
   * their skew). Other changes need no replay: the cache started over and the index reloads.
   */
  async replayRevocations(since: Date): Promise<void> {
    try {
      const rows = await this.db.prisma.apiKey.findMany({
        where: { status: 'REVOKED', updatedAt: { gte: since }, OR: [{ revokedAt: { gte: since } }, { revocationReason: 'EXPIRED' }] },
        select: KEY_ROW,
        orderBy: { updatedAt: 'asc' },
      });
      for (const row of rows) this.changes.publish(keyChanged(row, CHANGE_BY_REASON[row.revocationReason ?? 'REVOKED_BY_ADMIN']));
    } catch (error) {
      if (!this.stopped) this.log.error({ err: error }, 'could not replay the revocations made while LISTEN was lost');
    }
  }

  private onPayload(payload: string): void {
    let event: KeyChanged | null;
    let traceparent: string | null | undefined;
    try {
      const notice = JSON.parse(payload) as KeyChangeNotice | CallerChangeNotice;
      // A member or a team changed: the cached verifications holding its rows go (viewer, roles
      // and plans are read again on the next use).
      if (notice.op === 'USER' || notice.op === 'TEAM') {
        if (notice.op === 'USER') this.auth.forgetUser(notice.id);
        else this.auth.forgetTeam(notice.id);
        return;
      }
      event = eventOf(notice as KeyChangeNotice);
      traceparent = (notice as KeyChangeNotice).traceparent;
    } catch (error) {
      this.log.error({ err: error }, 'unreadable key change notification');
      return;
    }
    if (!event) return;
    const { tracing } = this.options;
    // A traced revocation's change (not its echo here, which the bus drops): its delivery on this
    // instance (the cache, the sockets, apiKeyRevoked) is a span of the revocation's trace.
    if (tracing && traceparent && !this.changes.delivered(event.id)) {
      const change = event;
      // The work runs at once (in order with the next payloads); only the span's end is async.
      tracing
        .span(
          'keyplane.key_change.deliver',
          (span) => {
            span.setAttributes({ 'keyplane.key.id': change.keyId, 'keyplane.key_change': change.change });
            this.announce(change);
          },
          traceparent,
        )
        .catch((error: unknown) => this.log.error({ err: error }, 'could not deliver a key change'));
      return;
    }
    this.announce(event);
  }

  /**
   * A regeneration's overlap is not in the NOTIFY: the row is read again (rotation.ts), and the
   * key's later events wait for it, so that they apply in order; other keys' events never wait.
   * A failed read announces no overlap: the old secret's sockets here close at once (its requests
   * are still verified by a read of the row).
   */
  private announce(event: KeyChanged): void {
    // The old secret's cached verification goes at once, read or no read: its next use reads the
    // row (which knows whether an overlap keeps it), so the answer never waits for the overlap.
    if (event.change === 'regenerated') {
      this.auth.forget(event.hash);
      this.auth.forgetPreviousSecret(event.keyId);
    }
    const prior = this.queued.get(event.keyId);
    if (!prior && event.change !== 'regenerated') {
      this.changes.publish(event);
      return;
    }
    const next = (prior ?? Promise.resolve())
      .then(async () => {
        if (event.change !== 'regenerated') return event;
        return withOverlap(this.db.prisma, event).catch((error: unknown) => {
          this.log.warn({ err: error }, 'could not read the overlap of a regenerated key');
          return event;
        });
      })
      .then((e) => {
        if (!this.stopped) this.changes.publish(e);
      })
      .finally(() => {
        if (this.queued.get(event.keyId) === next) this.queued.delete(event.keyId);
      });
    this.queued.set(event.keyId, next);
  }
}
