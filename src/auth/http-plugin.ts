// Authentication of HTTP and SSE requests, before any GraphQL work: a key that is sent must be
// valid (401 at once otherwise, 429 once the address has used up its failures); a request without
// a key may only run the operations that need none (acceptInvitation, introspection).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BlockList } from 'node:net';
import { setImmediate as nextCheckPhase } from 'node:timers/promises';
import type { DocumentNode, ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { databaseUnavailableResponse, isDatabaseUnavailable } from '../db/outage.js';
import { DomainError, unauthenticated } from '../domain/errors.js';
import type { Context } from '../graphql/context.js';
import { toGraphQLError } from '../graphql/errors.js';
import { selectsOnly } from '../graphql/operation.js';
import { tooManyFailuresMessage } from '../ratelimit/address-limiter.js';
import { clientAddressOfRequest } from './client-address.js';
import type { GateOutcome, GateRefusal, KeyGate } from './gate.js';
import type { Principal } from './principal.js';

const ANONYMOUS_ROOT_FIELDS = new Set(['acceptInvitation', '__schema', '__type', '__typename']);
const MISSING_KEY = 'Missing API key: send it in the X-API-Key header';

function refusalParts(outcome: GateRefusal) {
  const blocked = outcome.reason === 'blocked';
  const code = blocked ? 'RATE_LIMITED' : 'UNAUTHENTICATED';
  const body = { errors: [{ message: outcome.message, extensions: { code, reason: outcome.reason } }] };
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  if (blocked && 'retryAfterSeconds' in outcome) headers['Retry-After'] = String(outcome.retryAfterSeconds);
  else headers['www-authenticate'] = 'X-API-Key';
  return { status: blocked ? 429 : 401, headers, body: JSON.stringify(body) };
}

function refusal(outcome: GateRefusal): Response {
  const { status, headers, body } = refusalParts(outcome);
  return new Response(body, { status, headers });
}

/**
 * Before GraphQL-over-HTTP's request adaptation: a guess (a key neither cached nor in the index
 * of live keys) from an address this process already knows to be blocked is answered 429 on the
 * spot, exactly as the plugin below would answer it, for a fraction of the CPU: a flood of
 * guesses is the one load where refusing cheaply matters. Anything else (a valid key from that
 * address, a browser's CORS request) takes the ordinary path. Returns whether it answered.
 */
export function refuseKnownGuess(
  { gate, trustProxy }: { gate: KeyGate; trustProxy: BlockList | null },
  req: IncomingMessage,
  res: ServerResponse,
): boolean {
  const header = req.headers['x-api-key'];
  if (typeof header !== 'string' || req.headers.origin !== undefined) return false;
  const outcome = gate.refuseKnownGuess(header, clientAddressOfRequest(req, trustProxy));
  if (!outcome) return false;
  const { status, headers, body } = refusalParts(outcome);
  // In the check phase, with the other answers of this poll phase (see ratelimit/plugin.ts).
  setImmediate(() => res.writeHead(status, headers).end(body));
  return true;
}

/** The client address of an HTTP or SSE request (see client-address.ts). */
export function clientAddressOf(serverContext: unknown, trustProxy: BlockList | null): string {
  return clientAddressOfRequest((serverContext as { req?: IncomingMessage } | undefined)?.req, trustProxy);
}

export interface KeyAuthOptions {
  gate: KeyGate;
  /** the client address of a request, as the rest of the server sees it */
  addressOf: (serverContext: unknown) => string;
}

/**
 * Authenticates the request's key once, when it arrives, and puts the caller in every operation's
 * context: `principal` (null without a key) and `clientAddress`. Over graphql-ws both are already
 * in the initial context (realtime/websocket.ts authenticates the socket).
 */
export function useKeyAuth({ gate, addressOf }: KeyAuthOptions): Plugin<Context> {
  const principals = new WeakMap<Request, Principal>();
  return {
    onRequest({ request, serverContext, endResponse }) {
      const header = request.headers.get('x-api-key');
      // An empty header is no key (GraphiQL sends one until the user fills it in).
      if (header === null || header.trim() === '') return;
      const apply = (outcome: GateOutcome) => {
        if (outcome.ok) principals.set(request, outcome.principal);
        else endResponse(refusal(outcome));
      };
      const outcome = gate.authenticate(header, addressOf(serverContext));
      // A cached key stays synchronous: no promise for the server to wait on.
      if (outcome instanceof Promise) {
        return outcome.then(apply, (error: unknown) => {
          // A key not in the cache while the database is down: the coded 503, not a 500.
          if (!isDatabaseUnavailable(error)) throw error;
          endResponse(databaseUnavailableResponse());
        });
      }
      // A refusal goes out in the check phase, with the others of its poll phase, as answers do
      // (see nextCheckPhase in ratelimit/plugin.ts): a burst of guesses is refused in batches.
      if (!outcome.ok) return nextCheckPhase().then(() => apply(outcome));
      apply(outcome);
    },
    onContextBuilding({ context, extendContext }) {
      const initial = context as Partial<Context>;
      extendContext({
        principal: initial.principal ?? (initial.request ? principals.get(initial.request) : undefined) ?? null,
        clientAddress: initial.clientAddress ?? addressOf(context),
        userAgent: initial.userAgent ?? initial.request?.headers.get('user-agent') ?? null,
      } satisfies Pick<Context, 'principal' | 'clientAddress' | 'userAgent'>);
    },
    onExecute({ args, setResultAndStopExecution }) {
      const ctx = args.contextValue;
      if (ctx.principal) return; // synchronous on the hot path: no promise for envelop to await
      return refuseAnonymous(ctx, args.document, args.operationName, setResultAndStopExecution);
    },
    async onSubscribe({ args, setResultAndStopExecution }) {
      const ctx = args.contextValue;
      if (ctx.principal) return;
      await gate.missingKey(ctx.clientAddress);
      setResultAndStopExecution({ errors: [toGraphQLError(unauthenticated(MISSING_KEY))] });
    },
  };

  /** A request without a key: acceptInvitation and introspection only, and not when blocked. */
  async function refuseAnonymous(
    ctx: Context,
    document: DocumentNode,
    operationName: string | null | undefined,
    setResultAndStopExecution: (result: ExecutionResult) => void,
  ) {
    const blockedFor = await gate.blockedFor(ctx.clientAddress);
    if (blockedFor > 0) {
      setResultAndStopExecution({
        errors: [
          toGraphQLError(new DomainError('RATE_LIMITED', tooManyFailuresMessage(blockedFor), { status: 429, retryAfter: blockedFor })),
        ],
      });
    } else if (!selectsOnly(document, operationName, ANONYMOUS_ROOT_FIELDS)) {
      await gate.missingKey(ctx.clientAddress);
      setResultAndStopExecution({ errors: [toGraphQLError(unauthenticated(MISSING_KEY))] });
    }
  }
}
