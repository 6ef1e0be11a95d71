// The baseline of `npm run bench`: a bare graphql-yoga server with the same query shape, that
// authenticates X-API-Key with a Map lookup. Prints its URL on stdout. With BARE_BODY_LIMIT=ours
// it limits request bodies the way Keyplane does (src/graphql/body-limit.ts) instead of yoga's
// default, so that the comparison isolates the cost of Keyplane's own hot path.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphQLError } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { useBodySizeLimit } from '../src/graphql/body-limit.js';

const ourBodyLimit = process.env.BARE_BODY_LIMIT === 'ours';

const keys = new Map([[process.env.BENCH_KEY ?? 'bare-key', { keyKind: 'PERSONAL' }]]);

const yoga = createYoga<{ principal?: { keyKind: string } }>({
  schema: createSchema({
    typeDefs: 'type Query { viewer: Viewer! } type Viewer { keyKind: String! }',
    resolvers: { Query: { viewer: (_root, _args, ctx) => ctx.principal } },
  }),
  logging: false,
  landingPage: false,
  ...(ourBodyLimit ? { maxRequestBodySize: false as const, plugins: [useBodySizeLimit(2_000_000)] } : {}),
  context: ({ request }) => {
    const principal = keys.get(request.headers.get('x-api-key') ?? '');
    if (!principal) throw new GraphQLError('Unauthenticated', { extensions: { http: { status: 401 } } });
    return { principal };
  },
});

const server = createServer(yoga);
server.listen(0, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
