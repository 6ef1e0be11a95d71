// The authentication step of every transport (HTTP, SSE, graphql-ws), with the brute-force limit:
// an address that has used up AUTH_FAILURES_PER_MINUTE gets 429 for anything that would need the
// database, except keys in the index of live keys (a valid key works from a blocked address, even
// one it never used); every failure is counted. A database read for a key outside the index is
// counted before it is made (and given back when the key is valid), so an address's guesses cost at
// most AUTH_FAILURES_PER_MINUTE reads a minute, concurrent or not.

import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import { type AuthFailureLimiter, tooManyFailuresMessage } from '../ratelimit/address-limiter.js';
import type { Authenticator, AuthOutcome, KeyAudience } from './authenticator.js';

export type GateOutcome = AuthOutcome | { ok: false; reason: 'blocked'; message: string; retryAfterSeconds: number };
export type GateRefusal = Exclude<GateOutcome, { ok: true }>;

export interface KeyGateDeps {
  auth: Authenticator;
  authFailures: AuthFailureLimiter;
  metrics: Metrics;
  log: Logger;
}

export class KeyGate {
  private readonly auth: Authenticator;
  private readonly authFailures: AuthFailureLimiter;
  private readonly metrics: Metrics;
  private readonly log: Logger;

  constructor({ auth, authFailures, metrics, log }: KeyGateDeps) {
    this.auth = auth;
    this.authFailures = authFailures;
    this.metrics = metrics;
    this.log = log;
  }

  /** Synchronous for a cached valid key (the hot path); failures may wait on the limiter. */
  authenticate(header: string | null, address: string, audience: KeyAudience = 'graphql'): GateOutcome | Promise<GateOutcome> {
    const { authFailures, metrics, log } = this;
    let counted = false;
    let retryAfterSeconds = 0;
    const admit = async () => {
      retryAfterSeconds = await authFailures.reserve(address);
      counted = retryAfterSeconds === 0;
      return counted;
    };
    const settle = (outcome: AuthOutcome): GateOutcome | Promise<GateOutcome> => {
      if (outcome.ok) {
        if (counted) void authFailures.refund(address).catch((error: unknown) => log.warn({ err: error }, 'auth failure refund failed'));
        return outcome;
      }
      if (outcome.reason === 'blocked') {
        metrics.authFailures.inc({ reason: 'blocked' });
        return { ok: false, reason: 'blocked', message: tooManyFailuresMessage(retryAfterSeconds), retryAfterSeconds };
      }
      if (counted) {
        metrics.authFailures.inc({ reason: outcome.reason });
        return outcome; // already counted by admit: its 401
      }
      return this.refused(outcome, address);
    };
    // A read that throws (the database unreachable: a 503) is no failure of the address: its
    // reserved point is given back, or a few requests during an outage would block it.
    const thrown = (error: unknown): never => {
      if (counted) {
        counted = false;
        void authFailures.refund(address).catch((e: unknown) => log.warn({ err: e }, 'auth failure refund failed'));
      }
      throw error;
    };
    // lastUsedFrom: a request with no known peer leaves the last known address as it is.
    const outcome = this.auth.authenticate(header, admit, address === 'unknown' ? undefined : address, Date.now(), audience);
    return outcome instanceof Promise ? outcome.then(settle, thrown) : settle(outcome);
  }

  /**
   * The refusal of a guess (a key neither cached nor in the index of live keys) from an address
   * this process already knows to be blocked, decided with no I/O; null for anything else.
   */
  refuseKnownGuess(header: string, address: string): GateRefusal | null {
    const retryAfterSeconds = this.authFailures.knownBlockedFor(address);
    if (retryAfterSeconds === 0 || !this.auth.isGuess(header)) return null;
    this.metrics.authFailures.inc({ reason: 'blocked' });
    return { ok: false, reason: 'blocked', message: tooManyFailuresMessage(retryAfterSeconds), retryAfterSeconds };
  }

  /** Seconds until the address may try again, or 0 when it is not blocked. */
  blockedFor(address: string): Promise<number> {
    return this.authFailures.blockedFor(address);
  }

  /** An operation that needs a key arrived without one: a failure of its address. */
  async missingKey(address: string): Promise<void> {
    this.metrics.authFailures.inc({ reason: 'missing' });
    await this.authFailures.recordFailure(address);
  }

  private async refused(outcome: Exclude<AuthOutcome, { ok: true }>, address: string): Promise<GateOutcome> {
    this.metrics.authFailures.inc({ reason: outcome.reason });
    const retryAfterSeconds = await this.authFailures.blockedFor(address);
    if (retryAfterSeconds > 0) {
      return { ok: false, reason: 'blocked', message: tooManyFailuresMessage(retryAfterSeconds), retryAfterSeconds };
    }
    await this.authFailures.recordFailure(address);
    return outcome;
  }
}
