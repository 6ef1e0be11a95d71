// One execution per event for every subscriber that would compute the same result. graphql-ws
// and yoga's SSE otherwise execute the selection once per subscriber (~65 µs each: 65 ms for a
// thousand admins watching one team). Subscribers share a result when they sent the same
// document and variables and see the same things: auth/policy.ts says what that is
// (visibilityOf); no resolver below a subscription root reads more of the viewer (the
// per-viewer filtering happens on the event stream, before execution).
// Over graphql-ws the shared result is also serialized once and written straight to each socket
// as the protocol's `next` message; the per-subscriber path through envelop's result hooks and
// graphql-ws's own serialization is kept for results with errors (so that they are masked) and
// for SSE.
import {
  createSourceEventStream,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  execute,
  type FieldNode,
  GraphQLError,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  getDirectiveValues,
  getOperationAST,
  getVariableValues,
  type OperationDefinitionNode,
  print,
  type SelectionSetNode,
} from 'graphql';
import { type Plugin, Repeater } from 'graphql-yoga';
import type { WebSocket } from 'ws';
import { visibilityOf } from '../auth/policy.js';
import type { Principal } from '../auth/principal.js';
import { badInput } from '../domain/errors.js';
import type { Context } from '../graphql/context.js';
import { toGraphQLError } from '../graphql/errors.js';

const printed = new WeakMap<DocumentNode, string>();
interface SharedResult {
  result: Promise<ExecutionResult>;
  /** the result as JSON, or null when it has errors (those take the masking path) */
  json: Promise<string | null>;
  /** whole `next` messages by graphql-ws operation id: clients often number operations alike */
  messages: Map<string, Buffer>;
}

const shared = new WeakMap<object, Map<string, SharedResult>>();
/** A socket this far behind is closed rather than buffered without end. */
const MAX_SOCKET_BUFFER = 8 * 1024 * 1024;

/** Counts executions, for the benchmark and the tests that prove sharing. */
export const sharedExecutionStats = { executions: 0, deliveries: 0 };

function documentText(document: DocumentNode): string {
  let text = printed.get(document);
  if (text === undefined) printed.set(document, (text = print(document)));
  return text;
}

function shareKey(args: ExecutionArgs, p: Principal): string {
  return JSON.stringify([visibilityOf(p), args.operationName ?? null, args.variableValues ?? null, documentText(args.document)]);
}

function share(run: () => Promise<ExecutionResult>): SharedResult {
  const result = run();
  const json = result.then((r) => (r.errors?.length ? null : JSON.stringify(r)));
  json.catch(() => {}); // awaited only over graphql-ws; the result's own failure surfaces there
  return { result, json, messages: new Map() };
}

function executeOnce(event: unknown, key: string, run: () => Promise<ExecutionResult>): SharedResult {
  if (typeof event !== 'object' || event === null) return share(run);
  let byKey = shared.get(event);
  if (!byKey) shared.set(event, (byKey = new Map()));
  let result = byKey.get(key);
  if (!result) {
    sharedExecutionStats.executions += 1;
    byKey.set(key, (result = share(run)));
  }
  return result;
}

interface SubscriptionContext extends Context {
  /** the graphql-ws socket and operation id (absent over SSE) */
  socket?: WebSocket;
  operationId?: string;
}

/** Writes `next` messages of one graphql-ws operation straight to its socket. */
function directSender(socket: WebSocket, operationId: string) {
  return (json: string, outcome: SharedResult) => {
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > MAX_SOCKET_BUFFER) return socket.close(1008, 'Too slow to keep up with events');
    let message = outcome.messages.get(operationId);
    if (!message) {
      message = Buffer.from(`{"id":${JSON.stringify(operationId)},"type":"next","payload":${json}}`);
      outcome.messages.set(operationId, message);
    }
    socket.send(message, { binary: false }); // a text frame, as graphql-ws expects
  };
}

const SKIPPED_ROOT = 'a subscription must select exactly one root field, and it may not be skipped';

/** The root fields an operation selects once @skip/@include are applied (fragments followed). */
function rootFields(args: ExecutionArgs, operation: OperationDefinitionNode, variables: Record<string, unknown>): FieldNode[] {
  const fields: FieldNode[] = [];
  const seen = new Set<string>();
  const included = (node: Parameters<typeof getDirectiveValues>[1]) =>
    getDirectiveValues(GraphQLSkipDirective, node, variables)?.if !== true &&
    getDirectiveValues(GraphQLIncludeDirective, node, variables)?.if !== false;
  const visit = (set: SelectionSetNode) => {
    for (const selection of set.selections) {
      if (!included(selection)) continue;
      if (selection.kind === 'Field') fields.push(selection);
      else if (selection.kind === 'InlineFragment') visit(selection.selectionSet);
      else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = args.document.definitions.find((d) => d.kind === 'FragmentDefinition' && d.name.value === selection.name.value);
        if (fragment?.kind === 'FragmentDefinition') visit(fragment.selectionSet);
      }
    }
  };
  visit(operation.selectionSet);
  return fields;
}

/**
 * The error that refuses the operation before it starts, if any. Validation
 * already allows one root field at most; one skipped (`@skip(if: true)`, or by a variable) leaves
 * none, which graphql-js does not expect (it throws a TypeError): a coded error instead.
 */
function skippedRoot(args: ExecutionArgs): GraphQLError | null {
  const operation = getOperationAST(args.document, args.operationName);
  if (!operation) return null; // graphql-js reports it
  const variables = getVariableValues(
    args.schema,
    operation.variableDefinitions ?? [],
    (args.variableValues ?? {}) as Record<string, unknown>,
  );
  if (variables.errors) return null; // graphql-js reports them, coded
  return rootFields(args, operation, variables.coerced).length === 0 ? toGraphQLError(badInput('subscription', SKIPPED_ROOT)) : null;
}

/**
 * The subscribe function never rejects: a refusal or a failure is a result with errors (masked
 * when unexpected), so that every transport answers it as such (no 4500 close, no HTTP 500) and
 * the plugins that hold resources for the subscription see it end (ratelimit/plugin.ts).
 */
async function sharedSubscribe(args: ExecutionArgs): Promise<AsyncIterable<unknown> | ExecutionResult> {
  try {
    const refused = skippedRoot(args);
    if (refused) return { errors: [refused] };
    return await subscribeShared(args);
  } catch (error) {
    return { errors: [error instanceof GraphQLError ? error : new GraphQLError('Unexpected error.', { originalError: error as Error })] };
  }
}

async function subscribeShared(args: ExecutionArgs) {
  const source = await createSourceEventStream(args);
  const ctx = args.contextValue as SubscriptionContext;
  const principal = ctx.principal;
  if (!(Symbol.asyncIterator in source) || !principal) return source;
  const key = shareKey(args, principal);
  const send = ctx.socket && ctx.operationId !== undefined ? directSender(ctx.socket, ctx.operationId) : null;

  return new Repeater<ExecutionResult>(async (push, stop) => {
    // Over SSE there is no socket to close when the key stops working: the stream ends instead
    // (registered before the first pull of the source, which may hold that end: holdClose).
    const untrack = ctx.socket ? () => {} : ctx.services.sockets.trackStream(principal.keyId, ctx, () => stop(), principal);
    const events = source[Symbol.asyncIterator]();
    void stop.then(() => events.return?.()); // ends a pending next()
    try {
      for (;;) {
        const next = await events.next();
        if (next.done) break;
        const event: unknown = next.value;
        sharedExecutionStats.deliveries += 1;
        const outcome = executeOnce(event, key, async () => execute({ ...args, rootValue: event }) as ExecutionResult);
        const json = send ? await outcome.json : null;
        if (json !== null)
          send!(json, outcome); // queued on the socket before any close that follows
        else await push(outcome.result); // settles when the consumer asks for more: the result was sent
        // Only then is the source pulled again: a stream that must deliver an event before its
        // connection closes (apiKeyRevoked) ends on that pull and lets the close go on.
      }
    } finally {
      untrack();
      await events.return?.();
      stop();
    }
  });
}

/**
 * Envelop plugin: subscriptions (graphql-ws and SSE) run through sharedSubscribe. Validation is
 * guarded too: graphql-js's SingleFieldSubscriptionsRule throws (rather than reports) when a
 * subscription's root field has @skip/@include on a variable, which reached graphql-ws as a 4500
 * close; it is a coded error instead.
 */
export function useSharedSubscriptionExecution(): Plugin<Context> {
  return {
    onValidate({ validateFn, setValidationFn }) {
      setValidationFn((...args: Parameters<typeof validateFn>) => {
        try {
          return validateFn(...args);
        } catch (error) {
          const document: DocumentNode = args[1];
          const subscribes = document.definitions.some((d) => d.kind === 'OperationDefinition' && d.operation === 'subscription');
          if (!(error instanceof GraphQLError) || !subscribes) throw error;
          return [toGraphQLError(badInput('subscription', `${SKIPPED_ROOT} (${error.message})`))];
        }
      });
    },
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(sharedSubscribe as never);
    },
  };
}
