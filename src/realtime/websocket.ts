// graphql-ws on the same port and path as HTTP (yoga's documented recipe), authenticated once per
// connection from connectionParams["x-api-key"].
import type { IncomingMessage, Server } from 'node:http';
import { type ExecutionArgs, GraphQLError } from 'graphql';
import type { Context as WsContext } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer, type WebSocket } from 'ws';
import { clientAddressOfRequest } from '../auth/client-address.js';
import { authenticateFrom } from '../auth/gate.js';
import type { Principal } from '../auth/principal.js';
import type { Services } from '../services.js';
import { closeReason, SocketRegistry } from './socket-registry.js';

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
  services: Services,
) {
  const wsServer = new WebSocketServer({ server: httpServer, path: yoga.graphqlEndpoint });
  const disposable = useServer<Record<string, unknown>, Extra>(
    {
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      onConnect: async (ctx: WsContext<Record<string, unknown>, Extra>) => {
        const address = clientAddressOfRequest(ctx.extra.request, services.config.trustProxy);
        const outcome = await authenticateFrom(services, keyFromParams(ctx.connectionParams), address);
        if (!outcome.ok) {
          if (outcome.reason === 'blocked') ctx.extra.socket.close(4429, closeReason(outcome.message));
          else SocketRegistry.refuse(ctx.extra.socket, outcome.message);
          return false;
        }
        ctx.extra.principal = outcome.principal;
        services.sockets.add(outcome.principal.keyId, ctx.extra.socket, outcome.expiresAt);
        return true;
      },
      onSubscribe: async (ctx, id, payload) => {
        // A socket whose key stopped working only waits to deliver its revocation event.
        if (services.sockets.isClosing(ctx.extra.socket)) {
          return [new GraphQLError('This API key no longer works', { extensions: { code: 'UNAUTHENTICATED' } })];
        }
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          socket: ctx.extra.socket,
          operationId: id,
          params: payload,
          principal: ctx.extra.principal,
          clientAddress: clientAddressOfRequest(ctx.extra.request, services.config.trustProxy),
        });
        const args: ExecutionArgs = {
          schema,
          operationName: payload.operationName,
          document: parse(payload.query),
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
