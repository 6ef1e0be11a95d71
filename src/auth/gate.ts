// The authentication step of every transport (HTTP, SSE, graphql-ws), with the brute-force limit:
// an address that has used up AUTH_FAILURES_PER_MINUTE gets 429 for anything that would need the
// database (keys it authenticated with lately still work); every failure is counted.
import type { Services } from '../services.js';
import type { AuthOutcome } from './authenticator.js';

export type GateOutcome = AuthOutcome | { ok: false; reason: 'blocked'; message: string; retryAfterSeconds: number };

/** Synchronous for a cached valid key (the hot path); failures may wait on the limiter. */
export function authenticateFrom(services: Services, header: string | null, address: string): GateOutcome | Promise<GateOutcome> {
  const { auth, authFailures } = services;
  const outcome = auth.authenticate(header, async () => (await authFailures.blockedFor(address)) === 0);
  if (outcome instanceof Promise) return outcome.then((o) => (o.ok ? o : refused(services, o, address)));
  return outcome.ok ? outcome : refused(services, outcome, address);
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

export const tooManyFailuresMessage = (seconds: number) =>
  `Too many failed authentications from this address: retry in ${seconds} s`;
