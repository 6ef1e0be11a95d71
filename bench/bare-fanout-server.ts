// The baseline of `npm run bench:fanout`: graphql-yoga + graphql-ws as their docs set them up
// (yoga's recipe: execute/subscribe from getEnveloped per operation), a Map of keys checked on
// connect, an in-process pub/sub, and a mutation that publishes one event (no database). The
// event has the shape of Keyplane's ApiKeyRevokedEvent. Prints the same JSON line as
// fanout-server.ts.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createPubSub, createSchema, createYoga } from 'graphql-yoga';
import { WebSocketServer } from 'ws';

const SUBSCRIBERS = Number(process.env.FANOUT_SUBSCRIBERS ?? 1_000);
const VICTIMS = Number(process.env.FANOUT_EVENTS ?? 20);

const keys = new Set(Array.from({ length: SUBSCRIBERS + 1 }, (_, i) => `bare-key-${i}`));
const admin = { id: 'u-admin', name: 'Admin', email: 'admin@bench.local', role: 'SUPER_ADMIN' };
const pubsub = createPubSub<{ apiKeyRevoked: [unknown] }>();

const yoga = createYoga({
  schema: createSchema({
    typeDefs: /* GraphQL */ `
      type User { id: ID!, name: String!, email: String!, role: String! }
      type ApiKey { id: ID!, name: String!, hint: String!, status: String!, createdAt: String!, createdBy: User! }
      type ApiKeyRevokedEvent { apiKey: ApiKey, reason: String!, revokedAt: String!, revokedBy: User }
      type Query { ok: Boolean }
      type Mutation { revokeApiKeys(ids: [ID!]!): Int! }
      type Subscription { apiKeyRevoked: ApiKeyRevokedEvent! }
    `,
    resolvers: {
      Mutation: {
        revokeApiKeys: (_root: unknown, { ids }: { ids: string[] }) => {
          for (const id of ids) {
            pubsub.publish('apiKeyRevoked', {
              apiKey: {
                id,
                name: `victim ${id}`,
                hint: 'kp_…AbCd',
                status: 'REVOKED',
                createdAt: new Date().toISOString(),
                createdBy: admin,
              },
              reason: 'REVOKED_BY_ADMIN',
              revokedAt: new Date().toISOString(),
              revokedBy: admin,
            });
          }
          return ids.length;
        },
      },
      Subscription: { apiKeyRevoked: { subscribe: () => pubsub.subscribe('apiKeyRevoked'), resolve: (e: unknown) => e } },
    },
  }),
  logging: false,
  landingPage: false,
});

const server = createServer(yoga);
const wsServer = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
type EnvelopedRoot = { execute: (args: ExecutionArgs) => unknown; subscribe: (args: ExecutionArgs) => unknown };
useServer(
  {
    execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
    subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
    onConnect: (ctx) => keys.has(String(ctx.connectionParams?.['x-api-key'] ?? '')),
    onSubscribe: async (ctx, _id, payload) => {
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({ ...ctx, params: payload });
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

server.listen(0, '127.0.0.1', () => {
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  const all = [...keys];
  console.log(
    JSON.stringify({ url, adminKeys: all.slice(1), revokerKey: all[0], victimIds: Array.from({ length: VICTIMS }, (_, i) => `v${i}`) }),
  );
});
process.on('SIGTERM', () => {
  for (const c of wsServer.clients) c.terminate();
  server.close(() => process.exit(0));
});
