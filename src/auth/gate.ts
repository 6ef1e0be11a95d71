// The authentication step of every transport (HTTP, SSE, graphql-ws), with the brute-force limit:
// an address that has used up AUTH_FAILURES_PER_MINUTE gets 429 for anything that would need the
// database, except keys in the index of live keys (a valid key works from a blocked address, even
// one it never used); every failure is counted. A database read for a key outside the index is
// counted before it is made (and given back when the key is valid), so an address's guesses cost at
// most AUTH_FAILURES_PER_MINUTE reads a minute, concurrent or not.

import { tooManyFailuresMessage } from '../ratelimit/address-limiter.js';
import type { Services } from '../services.js';
import type { AuthOutcome } from './authenticator.js';

export type GateOutcome = AuthOutcome | { ok: false; reason: 'blocked'; message: string; retryAfterSeconds: number };

/** Synchronous for a cached valid key (the hot path); failures may wait on the limiter. */
export function authenticateFrom(services: Services, header: string | null, address: string): GateOutcome | Promise<GateOutcome> {
  const { auth, authFailures, metrics, log } = services;
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
    return refused(services, outcome, address);
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
  const outcome = auth.authenticate(header, admit);
  return outcome instanceof Promise ? outcome.then(settle, thrown) : settle(outcome);
}

async function refused(services: Services, outcome: Exclude<AuthOutcome, { ok: true }>, address: string): Promise<GateOutcome> {
  const { authFailures, metrics } = services;
  metrics.authFailures.inc({ reason: outcome.reason });
  const retryAfterSeconds = await authFailures.blockedFor(address);
  if (retryAfterSeconds > 0) {
    return { ok: false, reason: 'blocked', message: tooManyFailuresMessage(retryAfterSeconds), retryAfterSeconds };
  }
  await authFailures.recordFailure(address);
  return outcome;
}
