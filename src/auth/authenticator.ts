// X-API-Key → Principal. The hot path: parse and checksum (no I/O), then an in-process cache of
// verified keys (with the rows `viewer` shows: the caller costs no read on a hit), then one
// indexed read on a miss. Revocations drop keys from the cache at once.
// A miss whose hash is not in the index of live keys (key-index.ts) is probably a guess: it is
// read only when `admit` allows (the brute-force limit), and a read that finds a key repairs the
// index (a key born elsewhere an instant ago).
// A regenerated key's previous secret keeps working during its overlap (SPEC §5): a read by hash
// falls back to the row's previousHash, and the verification it caches says until when
// (`previousUntil`), checked on every use like expiresAt, so the old secret stops on every instance
// on the first request after the overlap's end, without any event.
// Each transport asks for an audience: a SCIM key (kps_) opens /scim/v2 and nothing else, and no
// other key opens /scim/v2 (SPEC §5), decided from the prefix before any I/O. A personal key of a
// member deactivated or deleted (SCIM) fails like a revoked one.
import { LRUCache } from 'lru-cache';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { KeyKind } from '../generated/prisma/enums.js';
import type { KeyChanged } from '../keys/events.js';
import { hashKey, parseKey } from '../keys/format.js';
import { effectiveLifecycle, type KeyStatusFields } from '../keys/status.js';
import { KeyHashIndex } from './key-index.js';
import type { LastUsedRecorder } from './last-used.js';
import type { Principal } from './principal.js';

export type AuthFailureReason =
  | 'blocked'
  | 'missing'
  | 'malformed'
  | 'checksum'
  | 'unknown'
  | 'disabled'
  | 'revoked'
  | 'expired'
  | 'rotated'
  /** a key of a kind this endpoint does not take (kps_ on /graphql, kp_/kpc_ on /scim/v2) */
  | 'wrongKind'
  /** a personal key of a member deactivated or deleted */
  | 'deactivated';

/** Where a key is presented: GraphQL (HTTP, SSE, graphql-ws) or the SCIM endpoint. */
export type KeyAudience = 'graphql' | 'scim';

/** SCIM keys authenticate /scim/v2 only, and only SCIM keys do. */
export function opens(audience: KeyAudience, kind: KeyKind): boolean {
  return (kind === 'SCIM') === (audience === 'scim');
}

const WRONG_KIND: Record<KeyAudience, string> = {
  graphql: 'A SCIM API key (kps_) authenticates /scim/v2 only',
  scim: 'Only a SCIM API key (kps_) opens /scim/v2',
};

export type AuthOutcome =
  | {
      ok: true;
      principal: Principal;
      expiresAt: Date | null;
      /** set when the request used the key's previous secret: when that secret stops (its overlap's end) */
      previousUntil: Date | null;
    }
  | { ok: false; reason: AuthFailureReason; message: string };

interface VerifiedKey extends KeyStatusFields {
  principal: Principal;
  /** verified by the row's previousHash: the overlap's end (the secret fails from then on) */
  previousUntil: Date | null;
}

const MESSAGES: Record<'missing' | 'malformed' | 'checksum' | 'unknown' | 'disabled', string> = {
  missing: 'Missing API key: send it in the X-API-Key header',
  malformed: 'Malformed API key: expected kp_, kpc_ or kps_ followed by 36 letters and digits',
  checksum: 'Invalid API key: its checksum does not match (mistyped or truncated?)',
  unknown: 'Unknown API key',
  disabled: 'This API key is disabled',
};

export interface AuthenticatorOptions {
  pepper?: string;
  /** How long a verified key is trusted without reading the database again. */
  cacheTtlMs?: number;
  cacheSize?: number;
  /** The live keys' hashes (shared with whoever keeps it up to date). */
  index?: KeyHashIndex;
}

const BLOCKED: AuthOutcome = { ok: false, reason: 'blocked', message: 'Too many failed authentications from this address' };

/** The cache's TTL while key changes from other processes may be missed (SPEC §5: within 1 s). */
export const DEGRADED_CACHE_TTL_MS = 1_000;

export class Authenticator {
  private readonly cache: LRUCache<string, VerifiedKey>;
  private readonly pepper?: string;
  /** Database reads made on cache misses (a metric, and proof that bad keys cost no I/O). */
  lookups = 0;
  /** Requests answered from the cache. */
  hits = 0;
  readonly index: KeyHashIndex;
  private readonly cacheTtlMs: number;
  private ttlMs: number;
  /** Counts member and team changes, so that a read they overtook is made again. */
  private generation = 0;
  /**
   * keyId → the previous secret's hash, for the keys in an overlap that this process has cached
   * or indexed: a change to the key drops that verification too (the cache is keyed by hash, and
   * the change feed names the current hash only). Entries outlive their overlap by at most the
   * cache's TTL.
   */
  private readonly previousSecrets: LRUCache<string, string>;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly lastUsed: LastUsedRecorder,
    options: AuthenticatorOptions = {},
  ) {
    this.pepper = options.pepper;
    this.index = options.index ?? new KeyHashIndex();
    this.cacheTtlMs = this.ttlMs = options.cacheTtlMs ?? 10_000;
    this.cache = new LRUCache<string, VerifiedKey>({
      max: options.cacheSize ?? 100_000,
      ttl: this.cacheTtlMs,
      fetchMethod: (hash) => this.load(hash),
    });
    this.previousSecrets = new LRUCache<string, string>({ max: options.cacheSize ?? 100_000, ttl: this.cacheTtlMs });
  }

  /**
   * Whether every key change made elsewhere reaches this process (the change feed is listening).
   * While not, cached verifications live at most DEGRADED_CACHE_TTL_MS; either way the cache starts
   * over, since changes may have been missed.
   */
  setChangesFollowed(followed: boolean): void {
    this.ttlMs = followed ? this.cacheTtlMs : Math.min(this.cacheTtlMs, DEGRADED_CACHE_TTL_MS);
    // Entries verified while changes were followed may be older than 1 s: they go. Entries
    // verified while not followed keep their 1 s TTL, so they need not go when following resumes.
    if (!followed) this.cache.clear();
  }

  hash(key: string): string {
    return hashKey(key, this.pepper);
  }

  /**
   * Synchronous when the key is rejected offline or found in the cache (the hot path).
   * `admit` is asked before reading the database for a hash that is not in the index of live keys
   * (a guess, or a key born elsewhere an instant ago): the brute-force limiter counts it and
   * answers false for an address that has used up its failures, so its guesses cost no I/O. A
   * hash in the index is read without asking (a valid key works from a blocked address).
   */
  authenticate(
    header: string | null | undefined,
    admit?: () => boolean | Promise<boolean>,
    /** the client address, recorded as the key's lastUsedFrom */
    from?: string,
    now = Date.now(),
    audience: KeyAudience = 'graphql',
  ): AuthOutcome | Promise<AuthOutcome> {
    if (header === null || header === undefined || header.trim() === '') {
      return { ok: false, reason: 'missing', message: MESSAGES.missing };
    }
    const parsed = parseKey(header.trim());
    if (!parsed.ok) return { ok: false, reason: parsed.problem, message: MESSAGES[parsed.problem] };
    // Refused like an unknown key (a failed authentication of the address), before any I/O.
    if (!opens(audience, parsed.kind)) return { ok: false, reason: 'wrongKind', message: WRONG_KIND[audience] };

    const hash = this.hash(parsed.key);
    const cached = this.cache.get(hash);
    if (cached) {
      this.hits += 1;
      return this.verdict(cached, now, from);
    }
    return this.lookUp(hash, admit, now, from);
  }

  /**
   * Whether `header` is a well-formed key that is neither cached nor in the (loaded) index of
   * live keys: a guess, which a blocked address is refused without any further work.
   */
  isGuess(header: string): boolean {
    if (!this.index.loaded) return false;
    const parsed = parseKey(header.trim());
    if (!parsed.ok) return false;
    const hash = this.hash(parsed.key);
    return !this.cache.has(hash) && !this.index.has(hash);
  }

  private async lookUp(
    hash: string,
    admit: (() => boolean | Promise<boolean>) | undefined,
    now: number,
    from: string | undefined,
  ): Promise<AuthOutcome> {
    // A hash outside the index is counted before its read. Until the index has loaded once (a
    // moment at start; retried until it does) a valid key cannot be told from a guess without
    // the read: a blocked address's key is then still read, and refused only if it is no valid key.
    let refused = false;
    if (admit && !this.index.has(hash)) {
      refused = !(await admit());
      if (refused && this.index.loaded) return BLOCKED;
    }
    const verified = await this.fetch(hash);
    if (!verified) return refused ? BLOCKED : { ok: false, reason: 'unknown', message: MESSAGES.unknown };
    // repairs a miss (idempotent); a previous secret is live only until its overlap's end
    if (verified.status !== 'REVOKED' && (!verified.previousUntil || verified.previousUntil.getTime() > now)) this.index.add(hash);
    const outcome = this.verdict(verified, now, from);
    return refused && !outcome.ok ? BLOCKED : outcome;
  }

  /**
   * fetch() coalesces concurrent misses for one key into one read. A key dropped from the cache
   * while its read runs (it changed, or the cache started over) aborts that read: read it again,
   * since the aborted read may predate the change.
   */
  private async fetch(hash: string): Promise<VerifiedKey | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.cache.fetch(hash, { ttl: this.ttlMs });
      } catch (error) {
        const aborted = error instanceof Error && (error.message === 'deleted' || error.message === 'evicted');
        if (!aborted || attempt >= 3) throw error;
      }
    }
  }

  private verdict(verified: VerifiedKey, now: number, from: string | undefined): AuthOutcome {
    const { previousUntil } = verified;
    if (previousUntil && previousUntil.getTime() <= now) {
      this.previousSecretEnded(verified.principal);
      return {
        ok: false,
        reason: 'rotated',
        message: `This API key was regenerated: this secret stopped working at ${previousUntil.toISOString()}`,
      };
    }
    const state = effectiveLifecycle(verified, now);
    if (state.status === 'DISABLED') return { ok: false, reason: 'disabled', message: MESSAGES.disabled };
    if (state.status === 'REVOKED') {
      const when = state.revokedAt?.toISOString();
      return state.revocationReason === 'EXPIRED'
        ? { ok: false, reason: 'expired', message: `This API key expired at ${when}` }
        : { ok: false, reason: 'revoked', message: `This API key was revoked at ${when} (${state.revocationReason})` };
    }
    const { key, user } = verified.principal;
    // The member's own keys end with the member (SCIM deactivation or deletion); the change of the
    // User row drops this verification everywhere (caller_change_notify), so it is read again.
    if (key.kind === 'PERSONAL' && (!user.active || user.deletedAt !== null)) {
      return { ok: false, reason: 'deactivated', message: 'The owner of this API key has been deactivated' };
    }
    this.lastUsed.record(key.id, now, from);
    // viewer.apiKey.lastUsedAt: this use, to the second (no Date per request).
    if (key.lastUsedAt === null || now - key.lastUsedAt.getTime() >= 1_000) key.lastUsedAt = new Date(now);
    if (from !== undefined && key.lastUsedFrom !== from) key.lastUsedFrom = from;
    return { ok: true, principal: verified.principal, expiresAt: verified.expiresAt, previousUntil };
  }

  /** A previous secret's overlap is over: it leaves the index (its cached verification answers "rotated" until it goes). */
  private previousSecretEnded(principal: Principal): void {
    if (this.previousSecrets.get(principal.keyId) === principal.keyHash) this.previousSecrets.delete(principal.keyId);
    this.index.remove(principal.keyHash);
  }

  /** A key changed (here or elsewhere): its verification is dropped, the index follows. */
  onKeyChanged(event: KeyChanged, now = Date.now()): void {
    this.cache.delete(event.hash);
    // The key's previous secret, if one is cached or indexed here: every change drops its cached
    // verification (status, name and expiry are the key's); a regeneration ends it, unless it is
    // the secret now kept for an overlap; a rename or a new expiry keeps it; anything else ends it.
    const previous = this.previousSecrets.get(event.keyId);
    if (previous !== undefined && event.change !== 'created') {
      this.cache.delete(previous);
      if (event.change !== 'updated' && previous !== event.hash) {
        this.index.remove(previous);
        this.previousSecrets.delete(event.keyId);
      }
    }
    const overlapUntil = event.change === 'regenerated' ? event.previousSecretExpiresAt?.getTime() : undefined;
    if (overlapUntil !== undefined && overlapUntil > now) {
      // The old secret keeps working until the overlap's end: it stays indexed (every instance
      // hears this regeneration), and its next use reads the row again (by previousHash).
      this.index.add(event.hash);
      this.previousSecrets.set(event.keyId, event.hash, { ttl: overlapUntil - now + this.cacheTtlMs });
    } else if (event.change === 'regenerated' || event.change === 'revoked' || event.change === 'deleted' || event.change === 'expired') {
      this.index.remove(event.hash);
      if (previous === event.hash) this.previousSecrets.delete(event.keyId);
    }
    if (event.newHash) this.index.add(event.newHash);
  }

  /**
   * A member's row changed (role, name, email, deactivated, deleted): the keys it owns or created
   * are verified again on their next use (and so are their roles and `viewer`).
   */
  forgetUser(userId: string): void {
    this.forgetWhere((p) => p.userId === userId);
  }

  /** A team's row changed (name, plan, settings): its keys are verified again on their next use. */
  forgetTeam(teamId: string): void {
    this.forgetWhere((p) => p.teamId === teamId);
  }

  private forgetWhere(match: (p: Principal) => boolean): void {
    this.generation += 1; // reads running now are made again (see load)
    const gone: string[] = [];
    for (const [hash, verified] of this.cache.entries()) if (match(verified.principal)) gone.push(hash);
    for (const hash of gone) this.cache.delete(hash);
  }

  /** Drops the cached verification of the key's previous secret, if one is cached here (it is read again). */
  forgetPreviousSecret(keyId: string): void {
    const previous = this.previousSecrets.get(keyId);
    if (previous !== undefined) this.cache.delete(previous);
  }

  /** Called by every path that changes a key's status, expiry or secret. */
  forget(hash: string): void {
    this.cache.delete(hash);
  }

  forgetAll(): void {
    this.cache.clear();
  }

  /**
   * One read on a miss: the key with its owner and team, everything `viewer` shows. A member or
   * team change announced while the read ran may predate it (entries still being fetched are not
   * dropped by forgetUser/forgetTeam): the read is made again.
   */
  private async load(hash: string): Promise<VerifiedKey | undefined> {
    for (let attempt = 1; ; attempt++) {
      const generation = this.generation;
      const verified = await this.read(hash);
      if (generation === this.generation || attempt >= 3) return verified;
    }
  }

  private async read(hash: string): Promise<VerifiedKey | undefined> {
    this.lookups += 1;
    // One read for both secrets (two unique indexes, a BitmapOr). A previous secret is read also
    // after its overlap, while the row still holds it: the verdict then says it was regenerated
    // (and when it stopped) rather than "unknown", whether or not its verification was cached.
    const row = await this.prisma.apiKey.findFirst({
      where: { OR: [{ hash }, { previousHash: hash }] },
      include: { team: true, createdBy: true },
    });
    if (!row) return undefined;
    const { team, createdBy: user, ...key } = row;
    const previousUntil = key.hash === hash ? null : key.previousSecretExpiresAt;
    if (key.hash !== hash && previousUntil === null) return undefined;
    if (previousUntil) this.previousSecrets.set(key.id, hash, { ttl: Math.max(previousUntil.getTime() - Date.now(), 0) + this.cacheTtlMs });
    return {
      previousUntil,
      status: key.status,
      expiresAt: key.expiresAt,
      revokedAt: key.revokedAt,
      revocationReason: key.revocationReason,
      principal: {
        keyId: key.id,
        keyKind: key.kind,
        keyHash: hash,
        previousUntil,
        teamId: key.teamId,
        plan: team.plan,
        userId: key.createdById,
        role: user.role,
        collectionId: key.collectionId,
        user,
        team,
        key,
      },
    };
  }
}
