// graphql-ws on the same port and path as HTTP (yoga's documented recipe), authenticated once per
// connection from connectionParams["x-api-key"]. Sockets are capped per client address (from the
// upgrade on, authenticated or not) and per key (once authenticated); opening one counts against
// the key's rate limit. A socket refused for any of these is closed with 4429 and a reason.
import type { IncomingMessage, Server } from 'node:http';
import { type ExecutionArgs, GraphQLError } from 'graphql';
import type { Context as WsContext } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import type { Logger } from 'pino';
import { type WebSocket, WebSocketServer } from 'ws';
import { clientAddressOfRequest } from '../auth/client-address.js';
import type { GateOutcome, KeyGate } from '../auth/gate.js';
import type { Principal } from '../auth/principal.js';
import type { Config } from '../config.js';
import { isDatabaseUnavailable } from '../db/outage.js';
import type { Metrics } from '../observability/metrics.js';
import type { KeyRateLimiter } from '../ratelimit/key-limiter.js';
import { AddressSlots, CLOSE_TOO_MANY } from './socket-caps.js';
import { closeReason, SocketRegistry } from './socket-registry.js';

export interface WebSocketDeps {
  gate: KeyGate;
  sockets: SocketRegistry;
  limiter: KeyRateLimiter;
  metrics: Metrics;
  log: Logger;
  config: Pick<Config, 'trustProxy' | 'socketsPerAddress' | 'socketsPerKey'>;
}

/** A socket refused because the database is unreachable (the client may retry shortly). */
export const CLOSE_TRY_AGAIN_LATER = 1013;
/** Anything unexpected in the handshake: the cause is logged (redacted), never sent. */
export const CLOSE_INTERNAL_ERROR = 1011;

/** How long a socket may stay open without a connection_init (graphql-ws then closes it, 4408). */
export const CONNECTION_INIT_WAIT_MS = 3_000;

interface Extra extends Record<PropertyKey, unknown> {
  socket: WebSocket;
  request: IncomingMessage;
  principal?: Principal;
}

type EnvelopedRoot = { execute: (args: ExecutionArgs) => unknown; subscribe: (args: ExecutionArgs) => unknown };

function keyFromParams(params: Readonly<Record<string, unknown>> | undefined): string | null {
  if (!params) return null;
  for (const [name, value] of Object.entries(params)) {
    if (name.toLowerCase() === 'x-api-key' && typeof value === 'string') return value;
  }
  return null;
}

export function attachWebSocketServer(
  httpServer: Server,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any yoga instance will do
  yoga: YogaServerInstance<any, any>,
  { gate, sockets, limiter, metrics, log, config }: WebSocketDeps,
) {
  const wsServer = new WebSocketServer({ server: httpServer, path: yoga.graphqlEndpoint });
  // The client address of each socket, decided once, at the upgrade.
  const addresses = new WeakMap<WebSocket, string>();
  const addressOf = (socket: WebSocket) => addresses.get(socket) ?? 'unknown';
  const addressSlots = new AddressSlots(config.socketsPerAddress);
  // Registered before graphql-ws's own listener: a refused socket is closed before it is served.
  wsServer.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    const address = clientAddressOfRequest(request, config.trustProxy);
    addresses.set(socket, address);
    if (!addressSlots.tryAdmit(address, socket)) {
      socket.close(
        CLOSE_TOO_MANY,
        closeReason(`Too many sockets from this address: at most ${config.socketsPerAddress} may be open at once`),
      );
    }
  });

  /** Admits an authenticated socket: the key's socket cap, then its rate limit. */
  async function admitKey(socket: WebSocket, principal: Principal, expiresAt: Date | null): Promise<boolean> {
    // A socket that closed while it was being authenticated is not counted (no close to come).
    if (socket.readyState !== socket.OPEN) return false;
    if (sockets.countFor(principal.keyId) >= config.socketsPerKey) {
      socket.close(CLOSE_TOO_MANY, closeReason(`Too many sockets for this API key: at most ${config.socketsPerKey} may be open at once`));
      return false;
    }
    // Counted from here (synchronously after the check); released when the socket closes.
    sockets.add(principal.keyId, socket, expiresAt, principal);
    const rate = await limiter.consume(principal.keyId);
    if (!rate.allowed) {
      metrics.requests.inc({ outcome: 'rate_limited' });
      socket.close(
        CLOSE_TOO_MANY,
        closeReason(
          `Rate limit of ${rate.limit} requests per ${limiter.windowSeconds} s exceeded for this key: retry in ${rate.retryAfterSeconds} s`,
        ),
      );
      return false;
    }
    return socket.readyState === socket.OPEN;
  }

  const disposable = useServer<Record<string, unknown>, Extra>(
    {
      // Whatever still escapes a hook closes the socket with a generic reason, never its message.
      isProd: true,
      connectionInitWaitTimeout: CONNECTION_INIT_WAIT_MS,
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      onConnect: async (ctx: WsContext<Record<string, unknown>, Extra>) => {
        // graphql-ws catches nothing thrown here: it would print the error (a key may be in it)
        // to stderr and close with 4500. A database outage is the server's state: a coded close.
        let outcome: GateOutcome;
        try {
          outcome = await gate.authenticate(keyFromParams(ctx.connectionParams), addressOf(ctx.extra.socket));
        } catch (error) {
          if (isDatabaseUnavailable(error)) {
            ctx.extra.socket.close(CLOSE_TRY_AGAIN_LATER, 'The database is unavailable: retry shortly');
          } else {
            log.error({ err: error }, 'websocket authentication failed');
            ctx.extra.socket.close(CLOSE_INTERNAL_ERROR, 'Internal server error');
          }
          return false;
        }
        if (!outcome.ok) {
          if (outcome.reason === 'blocked') ctx.extra.socket.close(CLOSE_TOO_MANY, closeReason(outcome.message));
          else SocketRegistry.refuse(ctx.extra.socket, outcome.message);
          return false;
        }
        ctx.extra.principal = outcome.principal;
        try {
          return await admitKey(ctx.extra.socket, outcome.principal, outcome.expiresAt);
        } catch (error) {
          log.error({ err: error }, 'websocket admission failed');
          ctx.extra.socket.close(CLOSE_INTERNAL_ERROR, 'Internal server error');
          return false;
        }
      },
      onSubscribe: async (ctx, id, payload) => {
        // A socket whose key stopped working only waits to deliver its revocation event.
        if (sockets.isClosing(ctx.extra.socket)) {
          return [new GraphQLError('This API key no longer works', { extensions: { code: 'UNAUTHENTICATED' } })];
        }
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          socket: ctx.extra.socket,
          operationId: id,
          params: payload,
          principal: ctx.extra.principal,
          clientAddress: addressOf(ctx.extra.socket),
          userAgent: ctx.extra.request.headers['user-agent'] ?? null,
        });
        // A syntax error quotes the offending token (a key pasted into the document, say): it is
        // the client's own text, answered to that operation only; graphql-ws would log it.
        let document: ExecutionArgs['document'];
        try {
          document = parse(payload.query);
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          return [new GraphQLError('The document could not be parsed', { extensions: { code: 'GRAPHQL_PARSE_FAILED' } })];
        }
        const args: ExecutionArgs = {
          schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
        const errors = validate(args.schema, args.document);
        return errors.length > 0 ? errors : args;
      },
    },
    wsServer,
  );
  return {
    wsServer,
    async close() {
      for (const client of wsServer.clients) client.close(1001, 'Server shutting down');
      await disposable.dispose();
    },
  };
}
