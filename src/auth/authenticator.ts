// X-API-Key → Principal. The hot path: parse and checksum (no I/O), then an in-process cache of
// verified keys, then one indexed read on a miss. Revocations drop keys from the cache at once.
import { LRUCache } from 'lru-cache';
import type { PrismaClient } from '../generated/prisma/client.js';
import { hashKey, parseKey } from '../keys/format.js';
import { effectiveLifecycle, type KeyLifecycle } from '../keys/status.js';
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
  | 'expired';

export type AuthOutcome =
  | { ok: true; principal: Principal; expiresAt: Date | null }
  | { ok: false; reason: AuthFailureReason; message: string };

interface VerifiedKey extends KeyLifecycle {
  principal: Principal;
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
}

export class Authenticator {
  private readonly cache: LRUCache<string, VerifiedKey>;
  private readonly pepper?: string;
  /** Database reads made on cache misses (a metric, and proof that bad keys cost no I/O). */
  lookups = 0;
  /** Requests answered from the cache. */
  hits = 0;
  /** Hashes that authenticated lately: still let through to the database when their address is blocked. */
  private readonly recentlyVerified = new LRUCache<string, true>({ max: 100_000, ttl: 3_600_000 });

  constructor(
    private readonly prisma: PrismaClient,
    private readonly lastUsed: LastUsedRecorder,
    options: AuthenticatorOptions = {},
  ) {
    this.pepper = options.pepper;
    this.cache = new LRUCache<string, VerifiedKey>({
      max: options.cacheSize ?? 100_000,
      ttl: options.cacheTtlMs ?? 10_000,
      fetchMethod: (hash) => this.load(hash),
    });
  }

  hash(key: string): string {
    return hashKey(key, this.pepper);
  }

  /**
   * `mayLookup` is asked before a database read: the brute-force limiter answers false for an
   * address that has used up its failures, so its guesses cost no I/O.
   */
  /** Synchronous when the key is rejected offline or found in the cache (the hot path). */
  authenticate(
    header: string | null | undefined,
    mayLookup?: (hash: string) => boolean | Promise<boolean>,
    now = Date.now(),
  ): AuthOutcome | Promise<AuthOutcome> {
    if (header === null || header === undefined || header.trim() === '') {
      return { ok: false, reason: 'missing', message: MESSAGES.missing };
    }
    const parsed = parseKey(header.trim());
    if (!parsed.ok) return { ok: false, reason: parsed.problem, message: MESSAGES[parsed.problem] };

    const hash = this.hash(parsed.key);
    const cached = this.cache.get(hash);
    if (cached) {
      this.hits += 1;
      return this.verdict(cached, now, false);
    }
    return this.lookUp(hash, mayLookup, now);
  }

  private async lookUp(
    hash: string,
    mayLookup: ((hash: string) => boolean | Promise<boolean>) | undefined,
    now: number,
  ): Promise<AuthOutcome> {
    if (mayLookup && !this.recentlyVerified.has(hash) && !(await mayLookup(hash))) {
      return { ok: false, reason: 'blocked', message: 'Too many failed authentications from this address' };
    }
    // fetch() coalesces concurrent misses for one key into one read.
    const verified = await this.cache.fetch(hash);
    if (!verified) return { ok: false, reason: 'unknown', message: MESSAGES.unknown };
    return this.verdict(verified, now, true);
  }

  private verdict(verified: VerifiedKey, now: number, fromDatabase: boolean): AuthOutcome {
    const hash = verified.principal.keyHash;
    const state = effectiveLifecycle(verified, now);
    if (state.status === 'DISABLED') return { ok: false, reason: 'disabled', message: MESSAGES.disabled };
    if (state.status === 'REVOKED') {
      const when = state.revokedAt?.toISOString();
      return state.revocationReason === 'EXPIRED'
        ? { ok: false, reason: 'expired', message: `This API key expired at ${when}` }
        : { ok: false, reason: 'revoked', message: `This API key was revoked at ${when} (${state.revocationReason})` };
    }
    this.lastUsed.record(verified.principal.keyId, now);
    if (fromDatabase) this.recentlyVerified.set(hash, true);
    return { ok: true, principal: verified.principal, expiresAt: verified.expiresAt };
  }

  /** Called by every path that changes a key's status, expiry or secret. */
  forget(hash: string): void {
    this.cache.delete(hash);
  }

  forgetAll(): void {
    this.cache.clear();
  }

  private async load(hash: string): Promise<VerifiedKey | undefined> {
    this.lookups += 1;
    const row = await this.prisma.apiKey.findUnique({
      where: { hash },
      select: {
        id: true,
        kind: true,
        teamId: true,
        createdById: true,
        status: true,
        expiresAt: true,
        revokedAt: true,
        revocationReason: true,
        collectionId: true,
        team: { select: { plan: true } },
        createdBy: { select: { role: true } },
      },
    });
    if (!row) return undefined;
    return {
      status: row.status,
      expiresAt: row.expiresAt,
      revokedAt: row.revokedAt,
      revocationReason: row.revocationReason,
      principal: {
        keyId: row.id,
        keyKind: row.kind,
        keyHash: hash,
        teamId: row.teamId,
        plan: row.team.plan,
        userId: row.createdById,
        role: row.createdBy.role,
        collectionId: row.collectionId,
      },
    };
  }
}
