// Key lists and lookups read only the columns the operation asks for (issue 15 item 4), and every
// field still answers right: derived fields (an expired key reads REVOKED/EXPIRED at once) bring
// the columns they derive from, whatever else is asked.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import {
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLResolveInfo,
  isObjectType,
  type OperationDefinitionNode,
  parse,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/graphql/schema.js';
import { API_KEY_FIELD_COLUMNS, selectAskedKeyColumns, USER_FIELD_COLUMNS } from '../../src/keys/key-selection.js';
import { gql } from '../helpers/client.js';
import { addKey, addTeam, addUser } from '../helpers/fixtures.js';
import { useTestServer } from '../helpers/server.js';

/** What selectAskedKeyColumns reads of a resolver's info, for the first root field of `doc`. */
function infoOf(doc: string): GraphQLResolveInfo {
  const parsed = parse(doc);
  const fragments: Record<string, FragmentDefinitionNode> = {};
  let root: FieldNode | undefined;
  for (const def of parsed.definitions) {
    if (def.kind === 'FragmentDefinition') fragments[def.name.value] = def;
    else root ??= (def as OperationDefinitionNode).selectionSet.selections[0] as FieldNode;
  }
  return { fieldNodes: [root!], fragments } as unknown as GraphQLResolveInfo;
}

describe('the columns of each field', () => {
  it('every field of ApiKey and User is in the tables (a missing one reads whole rows again)', () => {
    for (const [type, table] of [
      ['ApiKey', API_KEY_FIELD_COLUMNS],
      ['User', USER_FIELD_COLUMNS],
    ] as const) {
      const t = schema.getType(type);
      if (!isObjectType(t)) throw new Error(`${type} is not an object type`);
      expect(
        Object.keys(t.getFields()).filter((f) => !(f in table)),
        `fields of ${type} missing from key-selection.ts`,
      ).toEqual([]);
    }
  });

  it("Q3's page selects the asked columns and the creator's name, never the hash", () => {
    const info = infoOf(
      '{ teamApiKeys(first: 50, filter: {statuses: [ENABLED]}) { totalCount edges { node { id name hint createdBy { name } lastUsedAt } } } }',
    );
    expect(selectAskedKeyColumns(info, ['edges', 'node'], { include: { createdBy: true } })).toEqual({
      select: {
        id: true,
        kind: true,
        name: true,
        hint: true,
        lastUsedAt: true,
        createdById: true,
        createdBy: { select: { id: true, name: true } },
      },
    });
  });

  it('derived fields bring status and expiresAt; fragments and aliases are followed', () => {
    const info = infoOf(`
      query { apiKeys { ...Mine other: revokedAt ... on KeyRecord { revocationReason createdBy { ...Who } } } }
      fragment Mine on ApiKey { status }
      fragment Who on User { email }
    `);
    expect(selectAskedKeyColumns(info, [], { include: { createdBy: true } })).toEqual({
      select: {
        id: true,
        kind: true,
        status: true,
        expiresAt: true,
        revokedAt: true,
        revocationReason: true,
        createdById: true,
        createdBy: { select: { id: true, email: true } },
      },
    });
  });

  it("a field it does not know keeps the plugin's query (whole rows)", () => {
    const query = { include: { createdBy: true } };
    expect(selectAskedKeyColumns(infoOf('{ apiKeys { id somethingNew } }'), [], query)).toBe(query);
    expect(selectAskedKeyColumns(infoOf('{ apiKeys { id createdBy { somethingNew } } }'), [], query)).toEqual({
      select: { id: true, kind: true, createdById: true, createdBy: true },
    });
  });
});

describe('answers with narrowed reads', () => {
  const server = useTestServer({ RATE_LIMIT_PER_MINUTE: '100000' });

  const q = (doc: string) => parse(doc) as unknown as TypedDocumentNode<any, any>;

  it('an expired key reads REVOKED/EXPIRED when only one derived field is asked, in every key list and lookup', async () => {
    const t = await addTeam(server, 'ENTERPRISE');
    const admin = await addUser(server, t.teamId, 'TEAM_ADMIN');
    const member = await addUser(server, t.teamId);
    const expiresAt = new Date(Date.now() - 60_000);
    await server.services.prisma.apiKey.update({ where: { id: member.apiKey.id }, data: { expiresAt } });
    // The expired key cannot authenticate: a second key of the member's reads the first.
    const second = await addKey(server, member.user, 'second');

    for (const field of ['status', 'revokedAt', 'revocationReason'] as const) {
      const expected = { status: 'REVOKED', revokedAt: expiresAt.toISOString(), revocationReason: 'EXPIRED' }[field];
      const team = await gql(
        server.url,
        q(`{ teamApiKeys(filter: {createdBy: "${member.user.id}"}) { edges { node { id ${field} } } } }`),
        {},
        { key: admin.key },
      );
      expect(team.errors).toBeUndefined();
      expect(team.data.teamApiKeys.edges.find((e: any) => e.node.id === member.apiKey.id).node[field]).toBe(expected);
      const own = await gql(server.url, q(`{ apiKeys { id ... on KeyRecord { ${field} } } }`), {}, { key: second.secret });
      expect(own.errors).toBeUndefined();
      expect(own.data.apiKeys.find((k: any) => k.id === member.apiKey.id)[field]).toBe(expected);
      const one = await gql(
        server.url,
        q(`query { apiKey(id: "${member.apiKey.id}") { ...F } } fragment F on ApiKey { ${field} }`),
        {},
        { key: admin.key },
      );
      expect(one.errors).toBeUndefined();
      expect(one.data.apiKey[field]).toBe(expected);
    }
    // The filter agrees: it is REVOKED, not ENABLED.
    const revoked = await gql(
      server.url,
      q(`{ teamApiKeys(filter: {statuses: [REVOKED]}) { totalCount edges { node { id hint name } } } }`),
      {},
      { key: admin.key },
    );
    expect(revoked.data.teamApiKeys.edges.map((e: any) => e.node.id)).toEqual([member.apiKey.id]);
    expect(revoked.data.teamApiKeys.edges[0].node).toMatchObject({ name: member.apiKey.name, hint: `kp_…${member.apiKey.hint}` });
  });

  it("relations come with the asked member columns: apiKey(id) reads its creator and revoker in the lookup's query", async () => {
    const t = await addTeam(server, 'ENTERPRISE');
    const admin = await addUser(server, t.teamId, 'TEAM_ADMIN');
    const member = await addUser(server, t.teamId);
    const revoke = await gql(
      server.url,
      q(`mutation { revokeApiKeys(ids: ["${member.apiKey.id}"]) { revokedCount } }`),
      {},
      { key: admin.key },
    );
    expect(revoke.data.revokeApiKeys.revokedCount).toBe(1);
    const one = await gql(
      server.url,
      q(`{ apiKey(id: "${member.apiKey.id}") { id status createdBy { id name email role } revokedBy { name } } }`),
      {},
      { key: admin.key },
    );
    expect(one.errors).toBeUndefined();
    expect(one.data.apiKey).toEqual({
      id: member.apiKey.id,
      status: 'REVOKED',
      createdBy: { id: member.user.id, name: member.user.name, email: member.user.email, role: 'MEMBER' },
      revokedBy: { name: admin.user.name },
    });
    const page = await gql(
      server.url,
      q(
        `{ teamApiKeys(orderBy: RECENTLY_USED, first: 1) { pageInfo { endCursor hasNextPage } edges { cursor node { createdBy { email } } } } }`,
      ),
      {},
      { key: admin.key },
    );
    expect(page.errors).toBeUndefined();
    expect(page.data.teamApiKeys.pageInfo.hasNextPage).toBe(true);
    expect(page.data.teamApiKeys.edges[0].cursor).toBe(page.data.teamApiKeys.pageInfo.endCursor);
    const next = await gql(
      server.url,
      q(
        `{ teamApiKeys(orderBy: RECENTLY_USED, first: 1, after: "${page.data.teamApiKeys.pageInfo.endCursor}") { edges { node { id } } } }`,
      ),
      {},
      { key: admin.key },
    );
    expect(next.errors).toBeUndefined();
    expect(next.data.teamApiKeys.edges).toHaveLength(1);
  });
});
