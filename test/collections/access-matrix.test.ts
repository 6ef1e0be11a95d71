// Who may do what with collections and collection access keys (SPEC §4, §5), as a table: each cell
// is the outcome over HTTP against a real server: OK, an error code, or 401. Deleting a collection
// (which revokes its access keys) is for its creator or an admin only (SPEC §5).
import { beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { gql } from '../helpers/client.js';
import { addTeam, addUser, principalOf } from '../helpers/fixtures.js';
import { useTestServer } from '../helpers/server.js';

const ReadOne = graphql(`query MxRead($id: ID!) { collection(id: $id) { id name requests } }`);
const List = graphql(`query MxList { collections { id } }`);
const Update = graphql(`mutation MxUpdate($id: ID!) { updateCollection(id: $id, input: { name: "renamed" }) { id name } }`);
const Delete = graphql(`mutation MxDelete($id: ID!) { deleteCollection(id: $id) { id deletedAt } }`);
const Share = graphql(`mutation MxShare($id: ID!) { shareCollection(collectionId: $id) { secret accessKey { id } } }`);
const ListKeys = graphql(`query MxListKeys { collectionAccessKeys { id collection { id } } }`);
const Revoke = graphql(`mutation MxRevoke($id: ID!) { revokeCollectionAccessKey(id: $id) { id status } }`);
const Generate = graphql(`mutation MxGenerate { generateApiKey(input: { name: "mx" }) { apiKey { id } } }`);

type Actor = 'anonymous' | 'collection key of A' | 'collection key of B' | 'member' | 'creator' | 'admin' | 'admin of another team';
type Op =
  | 'read A'
  | 'read B'
  | 'list collections'
  | 'update A'
  | 'delete A'
  | 'share A'
  | 'list access keys'
  | "revoke A's key"
  | 'generate a personal key';

// prettier-ignore
const TABLE: Record<Actor, Record<Op, string>> = {
  anonymous: {
    'read A': '401',
    'read B': '401',
    'list collections': '401',
    'update A': '401',
    'delete A': '401',
    'share A': '401',
    'list access keys': '401',
    "revoke A's key": '401',
    'generate a personal key': '401',
  },
  'collection key of A': {
    'read A': 'OK',
    'read B': 'NOT_FOUND',
    'list collections': 'FORBIDDEN',
    'update A': 'FORBIDDEN',
    'delete A': 'FORBIDDEN',
    'share A': 'FORBIDDEN',
    'list access keys': 'FORBIDDEN',
    "revoke A's key": 'FORBIDDEN',
    'generate a personal key': 'FORBIDDEN',
  },
  'collection key of B': {
    'read A': 'NOT_FOUND',
    'read B': 'OK',
    'list collections': 'FORBIDDEN',
    'update A': 'FORBIDDEN',
    'delete A': 'FORBIDDEN',
    'share A': 'FORBIDDEN',
    'list access keys': 'FORBIDDEN',
    "revoke A's key": 'FORBIDDEN',
    'generate a personal key': 'FORBIDDEN',
  },
  member: {
    'read A': 'OK',
    'read B': 'OK',
    'list collections': 'OK',
    'update A': 'OK',
    'delete A': 'FORBIDDEN',
    'share A': 'OK',
    'list access keys': 'OK',
    "revoke A's key": 'FORBIDDEN',
    'generate a personal key': 'OK',
  },
  creator: {
    'read A': 'OK',
    'read B': 'OK',
    'list collections': 'OK',
    'update A': 'OK',
    'delete A': 'OK',
    'share A': 'OK',
    'list access keys': 'OK',
    "revoke A's key": 'OK',
    'generate a personal key': 'OK',
  },
  admin: {
    'read A': 'OK',
    'read B': 'OK',
    'list collections': 'OK',
    'update A': 'OK',
    'delete A': 'OK',
    'share A': 'OK',
    'list access keys': 'OK',
    "revoke A's key": 'OK',
    'generate a personal key': 'OK',
  },
  'admin of another team': {
    'read A': 'NOT_FOUND',
    'read B': 'NOT_FOUND',
    'list collections': 'OK',
    'update A': 'NOT_FOUND',
    'delete A': 'NOT_FOUND',
    'share A': 'NOT_FOUND',
    'list access keys': 'OK',
    "revoke A's key": 'NOT_FOUND',
    'generate a personal key': 'OK',
  },
};

let member: { key: string };
let creator: { key: string; user: { id: string } };
let admin: { key: string };
let otherAdminKey: string;

const server = useTestServer({ RATE_LIMIT_PER_MINUTE: '10000' });
beforeAll(async () => {
  member = await addUser(server, server.teamId);
  creator = await addUser(server, server.teamId);
  admin = await addUser(server, server.teamId, 'TEAM_ADMIN');
  otherAdminKey = (await addTeam(server)).apiKey;
});

/** Fresh collections A and B made by the creator, each with an access key. */
async function fixture() {
  const p = await principalOf(server, creator.key);
  const { collections } = server.services;
  const a = await collections.create(p, { name: 'A', requests: [{ name: 'ping', method: 'GET', url: 'https://example.com/a' }] });
  const b = await collections.create(p, { name: 'B' });
  return { a, b, keyA: await collections.share(p, a.id), keyB: await collections.share(p, b.id) };
}

function outcome(res: { status: number; errors?: { extensions?: { code?: unknown } }[] }): string {
  if (res.status === 401) return '401';
  const code = res.errors?.[0]?.extensions?.code;
  return code ? String(code) : 'OK';
}

describe('collections access matrix', () => {
  for (const actor of Object.keys(TABLE) as Actor[]) {
    for (const op of Object.keys(TABLE[actor]) as Op[]) {
      it(`${actor} × ${op} → ${TABLE[actor][op]}`, async () => {
        const f = await fixture();
        const key = {
          anonymous: null,
          'collection key of A': f.keyA.secret,
          'collection key of B': f.keyB.secret,
          member: member.key,
          creator: creator.key,
          admin: admin.key,
          'admin of another team': otherAdminKey,
        }[actor];
        const call = {
          'read A': () => gql(server.url, ReadOne, { id: f.a.id }, { key }),
          'read B': () => gql(server.url, ReadOne, { id: f.b.id }, { key }),
          'list collections': () => gql(server.url, List, {}, { key }),
          'update A': () => gql(server.url, Update, { id: f.a.id }, { key }),
          'delete A': () => gql(server.url, Delete, { id: f.a.id }, { key }),
          'share A': () => gql(server.url, Share, { id: f.a.id }, { key }),
          'list access keys': () => gql(server.url, ListKeys, {}, { key }),
          "revoke A's key": () => gql(server.url, Revoke, { id: f.keyA.accessKey.id }, { key }),
          'generate a personal key': () => gql(server.url, Generate, {}, { key }),
        }[op];
        const res = await call();
        expect(outcome(res)).toBe(TABLE[actor][op]);

        // Nothing leaks across teams, even where the call itself succeeds.
        if (actor === 'admin of another team' && res.data) expect(JSON.stringify(res.data)).not.toContain(f.a.id);
        // A refused change changed nothing.
        if (TABLE[actor][op] !== 'OK') {
          const a = await server.services.prisma.collection.findUniqueOrThrow({ where: { id: f.a.id } });
          expect(a).toMatchObject({ name: 'A', deletedAt: null });
          const k = await server.services.prisma.apiKey.findUniqueOrThrow({ where: { id: f.keyA.accessKey.id } });
          expect(k.status).toBe('ENABLED');
        }
      });
    }
  }
});
