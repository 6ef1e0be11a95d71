// The baselines of `npm run bench`: stock graphql-yoga with hand-written resolvers for exactly the
// benchmark's operations, and nothing of Keyplane's request path (no key hashing, no limits, no
// cache, no authorization). X-API-Key is looked up in a Map of the bench's own tokens (not keys).
//   Q1 / floor: `viewer` answered from that Map;
//   Q2: `apiKeys`, one Prisma findMany on the same database (the generated client + adapter-pg,
//       the same pool size as Keyplane's);
//   Q3: `teamApiKeys`, the page's findMany (creator names by Prisma's relation select) and the
//       same TeamKeyCount statement for totalCount, in parallel.
// Env: BARE_PRINCIPALS = JSON { token: principal }, DATABASE_URL (optional: without it only Q1).
// Prints `listening on http://127.0.0.1:PORT/graphql`.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrismaPg } from '@prisma/adapter-pg';
import { GraphQLError } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { PrismaClient } from '../src/generated/prisma/client.js';

export interface BarePrincipal {
  keyKind: 'PERSONAL';
  userId: string;
  teamId: string;
  user: { id: string; name: string; email: string; role: string };
  team: { id: string; name: string; plan: string };
}

const principals = new Map<string, BarePrincipal>(Object.entries(JSON.parse(process.env.BARE_PRINCIPALS ?? '{}')));
const prisma = process.env.DATABASE_URL
  ? new PrismaClient({ adapter: new PrismaPg({ connectionString: process.env.DATABASE_URL }) })
  : undefined;

const typeDefs = /* GraphQL */ `
  scalar DateTime
  enum KeyKind { PERSONAL COLLECTION_ACCESS SCIM }
  enum TeamRole { MEMBER TEAM_ADMIN SUPER_ADMIN }
  enum Plan { FREE ENTERPRISE }
  enum ApiKeyStatus { ENABLED DISABLED REVOKED }
  type User { id: ID! name: String! email: String! role: TeamRole! }
  type Team { id: ID! name: String! plan: Plan! }
  type Viewer { keyKind: KeyKind! user: User team: Team! }
  type ApiKey {
    id: ID! name: String! hint: String! status: ApiKeyStatus! createdAt: DateTime!
    expiresAt: DateTime lastUsedAt: DateTime createdBy: User!
  }
  type ApiKeyEdge { node: ApiKey! }
  type ApiKeyConnection { totalCount: Int! edges: [ApiKeyEdge!]! }
  input TeamApiKeyFilter { statuses: [ApiKeyStatus!] }
  type Query {
    viewer: Viewer!
    apiKeys: [ApiKey!]!
    teamApiKeys(first: Int = 50, filter: TeamApiKeyFilter): ApiKeyConnection!
  }
`;

type Ctx = { principal: BarePrincipal };
const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);
const hint = (h: string) => `kp_…${h}`;

function db(): PrismaClient {
  if (!prisma) throw new Error('bare server started without DATABASE_URL');
  return prisma;
}

const yoga = createYoga<object, Ctx>({
  schema: createSchema<Ctx>({
    typeDefs,
    resolvers: {
      Query: {
        viewer: (_r, _a, ctx) => ctx.principal,
        apiKeys: async (_r, _a, ctx) => {
          const rows = await db().apiKey.findMany({
            where: { createdById: ctx.principal.userId, teamId: ctx.principal.teamId, kind: 'PERSONAL' },
            orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
            take: 50,
            select: { id: true, name: true, hint: true, status: true, createdAt: true, expiresAt: true, lastUsedAt: true },
          });
          const now = Date.now();
          return rows.map((k) => ({
            ...k,
            hint: hint(k.hint),
            // an expired key reads REVOKED before the expiry job persists it (as in Keyplane)
            status: k.status !== 'REVOKED' && k.expiresAt && k.expiresAt.getTime() <= now ? 'REVOKED' : k.status,
            createdAt: iso(k.createdAt),
            expiresAt: iso(k.expiresAt),
            lastUsedAt: iso(k.lastUsedAt),
          }));
        },
        teamApiKeys: async (_r, args: { first: number; filter?: { statuses?: string[] } }, ctx) => {
          const statuses = args.filter?.statuses ?? [];
          if (statuses.length !== 1 || statuses[0] !== 'ENABLED')
            throw new GraphQLError('the bare baseline answers statuses: [ENABLED] only');
          const now = new Date();
          const teamId = ctx.principal.teamId;
          const [rows, counts] = await Promise.all([
            db().apiKey.findMany({
              where: { teamId, kind: 'PERSONAL', status: 'ENABLED', OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
              orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
              take: args.first + 1,
              select: { id: true, name: true, hint: true, createdAt: true, lastUsedAt: true, createdBy: { select: { name: true } } },
            }),
            // The statement Keyplane's totalCount runs (src/keys/team-key-query.ts), unfiltered by creator.
            db().$queryRawUnsafe<{ source: string; status: string; n: number }[]>(
              `SELECT 'stored' AS source, "status", SUM("n")::int AS n FROM "TeamKeyCount"
                WHERE "teamId" = $1 AND "kind" = 'PERSONAL' AND ($2::text IS NULL OR "createdById" = $2)
                GROUP BY "status"
               UNION ALL
               SELECT 'expired', "status", COUNT(*)::int FROM "ApiKey"
                WHERE "teamId" = $1 AND "kind" = 'PERSONAL' AND "status" IN ('ENABLED', 'DISABLED')
                  AND "expiresAt" <= $3::timestamptz AND ($2::text IS NULL OR "createdById" = $2)
                GROUP BY "status"`,
              teamId,
              null,
              now,
            ),
          ]);
          let enabled = 0;
          for (const c of counts) if (c.status === 'ENABLED') enabled += c.source === 'stored' ? c.n : -c.n;
          return {
            totalCount: enabled,
            edges: rows.slice(0, args.first).map((k) => ({
              node: { id: k.id, name: k.name, hint: hint(k.hint), lastUsedAt: iso(k.lastUsedAt), createdBy: k.createdBy },
            })),
          };
        },
      },
    },
  }),
  logging: false,
  landingPage: false,
  graphiql: false,
  context: ({ request }) => {
    const principal = principals.get(request.headers.get('x-api-key') ?? '');
    if (!principal) throw new GraphQLError('Unauthenticated', { extensions: { http: { status: 401 } } });
    return { principal };
  },
});

const server = createServer(yoga);
server.listen(0, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`);
});
process.on('SIGTERM', () => {
  server.close(() => void (prisma?.$disconnect() ?? Promise.resolve()).finally(() => process.exit(0)));
  server.closeAllConnections();
});
