// One execution per event for every subscriber that would compute the same result. graphql-ws
// and yoga's SSE otherwise execute the selection once per subscriber (~65 µs each: 65 ms for a
// thousand admins watching one team). Subscribers share a result when they sent the same
// document and variables and see the same things: team, role, kind of key and plan are all the
// field rules of auth/policy.ts look at, and no resolver below a subscription root reads more
// of the viewer (the per-viewer filtering happens on the event stream, before execution).
import {
  createSourceEventStream,
  type DocumentNode,
  execute,
  type ExecutionArgs,
  type ExecutionResult,
  getOperationAST,
  print,
} from 'graphql';
import { type Plugin, Repeater } from 'graphql-yoga';
import type { WebSocket } from 'ws';
import type { Principal } from '../auth/principal.js';
import type { Context } from '../graphql/builder.js';

const printed = new WeakMap<DocumentNode, string>();
const shared = new WeakMap<object, Map<string, Promise<ExecutionResult>>>();

/** Counts executions, for the benchmark and the tests that prove sharing. */
export const sharedExecutionStats = { executions: 0, deliveries: 0 };

function documentText(document: DocumentNode): string {
  let text = printed.get(document);
  if (text === undefined) printed.set(document, (text = print(document)));
  return text;
}

function shareKey(args: ExecutionArgs, p: Principal): string {
  return JSON.stringify([
    p.teamId,
    p.role,
    p.keyKind,
    p.plan,
    args.operationName ?? null,
    args.variableValues ?? null,
    documentText(args.document),
  ]);
}

function executeOnce(event: unknown, key: string, run: () => Promise<ExecutionResult>): Promise<ExecutionResult> {
  if (typeof event !== 'object' || event === null) return run();
  let byKey = shared.get(event);
  if (!byKey) shared.set(event, (byKey = new Map()));
  let result = byKey.get(key);
  if (!result) {
    sharedExecutionStats.executions += 1;
    byKey.set(key, (result = run()));
  }
  return result;
}

interface SubscriptionContext extends Context {
  /** the graphql-ws socket (absent over SSE) */
  socket?: WebSocket;
}

function rootFieldName(args: ExecutionArgs): string | undefined {
  const selection = getOperationAST(args.document, args.operationName)?.selectionSet.selections[0];
  return selection?.kind === 'Field' ? selection.name.value : undefined;
}

async function sharedSubscribe(args: ExecutionArgs) {
  const source = await createSourceEventStream(args);
  const ctx = args.contextValue as SubscriptionContext;
  const principal = ctx.principal;
  if (!(Symbol.asyncIterator in source) || !principal) return source;
  const key = shareKey(args, principal);
  const watchesRevocations = rootFieldName(args) === 'apiKeyRevoked';
  const unwatch = watchesRevocations && ctx.socket ? ctx.services.sockets.watchRevocations(ctx.socket) : () => {};

  return new Repeater<ExecutionResult>(async (push, stop) => {
    const events = source[Symbol.asyncIterator]();
    const stopped = stop.then(() => ({ done: true as const, value: undefined }));
    try {
      for (;;) {
        const next = await Promise.race([events.next(), stopped]);
        if (next.done) break;
        const event: unknown = next.value;
        sharedExecutionStats.deliveries += 1;
        // push() settles when the consumer asks for the next value: the result has been sent.
        await push(executeOnce(event, key, async () => execute({ ...args, rootValue: event }) as ExecutionResult));
        if (watchesRevocations && (event as { keyId?: string }).keyId === principal.keyId) {
          // Its own key's revocation: delivered, so the socket closes (4401) and the stream ends.
          if (ctx.socket) ctx.services.sockets.revocationDelivered(ctx.socket);
          break;
        }
      }
    } finally {
      unwatch();
      await events.return?.();
      stop();
    }
  });
}

/** Envelop plugin: subscriptions (graphql-ws and SSE) run through sharedSubscribe. */
export function useSharedSubscriptionExecution(): Plugin<Context> {
  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(sharedSubscribe as never);
    },
  };
}
