// Per-key rate limit and monthly quota for every operation (HTTP, SSE, graphql-ws), after
// authentication and before any resolver (SPEC §4's order). A rejected operation is not executed.
// HTTP responses to a valid key carry X-RateLimit-* whatever the outcome.
import { setImmediate as nextCheckPhase } from 'node:timers/promises';
import type { DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { type DomainError, tooManyRequests } from '../domain/errors.js';
import type { Context, Usage } from '../graphql/context.js';
import { toGraphQLError } from '../graphql/errors.js';
import { selectsOnly } from '../graphql/operation.js';
import type { Metrics } from '../observability/metrics.js';
import type { KeyRateLimiter, RateState } from './key-limiter.js';
import type { MonthlyQuota } from './quota.js';
import type { SubscriptionCap } from './subscriptions.js';

/** What stays readable over the monthly quota, so that a user can see why. */
const READABLE_OVER_QUOTA = new Set(['usage', 'viewer', '__typename']);

export interface RequestLimits {
  limiter: KeyRateLimiter;
  quota: MonthlyQuota;
  /** open subscriptions per key */
  subscriptions: SubscriptionCap;
  metrics: Metrics;
}

/**
 * Admits each operation with a key against its rate limit and quota, and puts the outcome in its
 * context (`usage`); the HTTP response's X-RateLimit-* come from the last operation of the request.
 */
export function useRequestLimits({ limiter, quota, subscriptions, metrics }: RequestLimits): Plugin<Context> {
  const rateByRequest = new WeakMap<Request, RateState>();
  // Label children resolved once: inc() on the hot path then hashes no labels.
  const succeeded = metrics.requests.labels('ok');
  const erred = metrics.requests.labels('error');

  async function admit(
    ctx: Context,
    extendContext: (usage: Pick<Context, 'usage'>) => void,
    document: DocumentNode,
    operationName?: string | null,
  ): Promise<DomainError | null> {
    const principal = ctx.principal;
    if (!principal) return null; // anonymous operations have their own limit (auth failures)
    // Answer in the check phase, not inside the socket's read callback: the responses of every
    // request read in one poll phase then go out together. Answered one by one (the in-memory
    // limiter and a cache hit complete synchronously), each write woke the client on its own:
    // in-process mode used 1.3x the CPU per request of the Redis mode, whose replies batch the
    // answers by themselves, and served 0.74-0.91x its requests; with this, 0.7-0.8x the CPU
    // and 1.34-1.61x the requests (Q1, same run, alternating rounds).
    await nextCheckPhase();
    const rate = await limiter.consume(principal.keyId);
    if (ctx.request) rateByRequest.set(ctx.request, rate);
    if (!rate.allowed) {
      metrics.requests.inc({ outcome: 'rate_limited' });
      return tooManyRequests(
        'RATE_LIMITED',
        `Rate limit of ${rate.limit} requests per ${limiter.windowSeconds} s exceeded for this key: retry in ${rate.retryAfterSeconds} s`,
        rate.retryAfterSeconds,
      );
    }
    const month = await quota.consume(principal.teamId, principal.plan, 1);
    extendContext({ usage: { rate, quota: month } satisfies Usage });
    if (!month.allowed && !selectsOnly(document, operationName, READABLE_OVER_QUOTA)) {
      metrics.requests.inc({ outcome: 'quota_exceeded' });
      const retry = Math.max(1, Math.ceil((month.resetAt.getTime() - Date.now()) / 1000));
      return tooManyRequests(
        'QUOTA_EXCEEDED',
        `Monthly quota of ${month.limit} API calls used up for this team (${principal.plan} plan): it resets at ${month.resetAt.toISOString()}`,
        retry,
      );
    }
    return null;
  }

  return {
    async onExecute({ args, extendContext, setResultAndStopExecution }) {
      const error = await admit(args.contextValue, extendContext, args.document, args.operationName);
      if (error) {
        setResultAndStopExecution({ errors: [toGraphQLError(error)] });
        return;
      }
      return {
        onExecuteDone({ result }) {
          if (!(Symbol.asyncIterator in result)) (result.errors?.length ? erred : succeeded).inc();
        },
      };
    },
    async onSubscribe({ args, extendContext, setResultAndStopExecution }) {
      const ctx = args.contextValue;
      const error = await admit(ctx, extendContext, args.document, args.operationName);
      if (error) {
        setResultAndStopExecution({ errors: [toGraphQLError(error)] });
        return;
      }
      const keyId = ctx.principal?.keyId;
      if (!keyId) return;
      if (!subscriptions.tryOpen(keyId)) {
        metrics.requests.inc({ outcome: 'rate_limited' });
        setResultAndStopExecution({
          errors: [toGraphQLError(tooManyRequests('RATE_LIMITED', `At most ${subscriptions.perKey} subscriptions may be open per key`, 1))],
        });
        return;
      }
      metrics.requests.inc({ outcome: 'ok' });
      // The slot is held exactly as long as a stream is: released once, by whichever comes first
      // of a start that produced no stream (refused, skipped root field, an error: a result with
      // errors, never a rejection — realtime/shared-execution.ts), the stream's end (done, or the
      // client's complete, the socket's close or the SSE abort, which all call return()), or its
      // failure.
      let closed = false;
      const release = () => {
        if (!closed) subscriptions.close(keyId);
        closed = true;
      };
      return {
        onSubscribeError: release,
        onSubscribeResult({ result }) {
          if (!(Symbol.asyncIterator in result)) {
            release();
            return;
          }
          return { onEnd: release };
        },
      };
    },
    onResponse({ request, response }) {
      const rate = rateByRequest.get(request);
      if (!rate) return;
      response.headers.set('X-RateLimit-Limit', String(rate.limit));
      response.headers.set('X-RateLimit-Remaining', String(rate.remaining));
      response.headers.set('X-RateLimit-Reset', String(Math.ceil(rate.resetAt.getTime() / 1000)));
    },
  };
}
