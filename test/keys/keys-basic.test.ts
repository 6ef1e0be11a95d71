// viewer, apiKeys, apiKey(id), generateApiKey and teamMembers over HTTP.
import { describe, expect, it } from 'vitest';
import { hashKey } from '../../src/keys/format.js';
import { graphql } from '../generated/index.js';
import { codes, gql } from '../helpers/client.js';
import { addTeam, addUser } from '../helpers/fixtures.js';
import { useTestServer } from '../helpers/server.js';

const Generate = graphql(`
  mutation BasicGenerate($input: GenerateApiKeyInput!) {
    generateApiKey(input: $input) {
      secret
      apiKey { id name hint status createdAt expiresAt lastUsedAt revokedAt revocationReason createdBy { id email } }
    }
  }
`);
const MyKeys = graphql(`
  query BasicMyKeys { apiKeys { id name hint status } }
`);
const OneKey = graphql(`
  query BasicOneKey($id: ID!) { apiKey(id: $id) { id name hint } }
`);
const Members = graphql(`
  query BasicMembers { teamMembers { id email name role } }
`);

const server = useTestServer();

describe('generateApiKey', () => {
  it('returns the secret once; only its hash is stored', async () => {
    const res = await gql(server.url, Generate, { input: { name: '  CI deploy  ' } }, { key: server.adminKey });
    expect(res.errors).toBeUndefined();
    const { secret, apiKey } = res.data!.generateApiKey;
    expect(secret).toMatch(/^kp_[0-9A-Za-z]{36}$/);
    expect(apiKey).toMatchObject({
      name: 'CI deploy',
      hint: `kp_…${secret.slice(-4)}`,
      status: 'ENABLED',
      expiresAt: null,
      revokedAt: null,
      revocationReason: null,
    });
    const row = await server.services.prisma.apiKey.findUniqueOrThrow({ where: { id: apiKey.id } });
    expect(row.hash).toBe(hashKey(secret));
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(JSON.stringify(row)).not.toContain(secret.slice(3, 33));

    // The new key works, and listing never shows the secret again.
    const list = await gql(server.url, MyKeys, {}, { key: secret });
    expect(list.status).toBe(200);
    expect(list.data!.apiKeys.map((k) => k.id)).toContain(apiKey.id);
    expect(JSON.stringify(list)).not.toContain(secret);
  });

  it.each([
    ['', 'empty'],
    ['   ', 'whitespace only'],
    ['x'.repeat(101), '101 characters'],
  ])('rejects the name %j (%s) with BAD_USER_INPUT naming the field', async (name) => {
    const before = await server.services.prisma.apiKey.count();
    const res = await gql(server.url, Generate, { input: { name } }, { key: server.adminKey });
    expect(res.status).toBe(200);
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors![0].message).toMatch(/^input\.name: /);
    expect(await server.services.prisma.apiKey.count()).toBe(before);
  });

  it('accepts a 100-character name', async () => {
    const res = await gql(server.url, Generate, { input: { name: 'y'.repeat(100) } }, { key: server.adminKey });
    expect(res.errors).toBeUndefined();
  });
});

describe('reading keys', () => {
  it('lists the viewer own keys only, newest first', async () => {
    const member = await addUser(server, server.teamId);
    const first = await gql(server.url, Generate, { input: { name: 'm1' } }, { key: member.key });
    const second = await gql(server.url, Generate, { input: { name: 'm2' } }, { key: member.key });
    const list = await gql(server.url, MyKeys, {}, { key: member.key });
    const ids = list.data!.apiKeys.map((k) => k.id);
    expect(ids).toEqual([second.data!.generateApiKey.apiKey.id, first.data!.generateApiKey.apiKey.id, member.apiKey.id]);
  });

  it('apiKey(id): own key yes; another member key or another team key NOT_FOUND like a missing id', async () => {
    const alice = await addUser(server, server.teamId);
    const bob = await addUser(server, server.teamId);
    const other = await addTeam(server);
    const otherKey = await server.services.prisma.apiKey.findFirstOrThrow({ where: { teamId: other.teamId } });

    const own = await gql(server.url, OneKey, { id: alice.apiKey.id }, { key: alice.key });
    expect(own.data!.apiKey).toMatchObject({ id: alice.apiKey.id });

    for (const id of [bob.apiKey.id, otherKey.id, '00000000-0000-0000-0000-000000000000', 'nonsense']) {
      const res = await gql(server.url, OneKey, { id }, { key: alice.key });
      expect(res.status).toBe(200);
      expect(res.data).toEqual({ apiKey: null });
      expect(codes(res)).toEqual(['NOT_FOUND']);
      expect(res.errors![0].message).toBe(`API key ${id} was not found`);
    }
  });

  it('apiKey(id): an admin reads any key of the team, not another team', async () => {
    const member = await addUser(server, server.teamId);
    const other = await addTeam(server);
    const adminRead = await gql(server.url, OneKey, { id: member.apiKey.id }, { key: server.adminKey });
    expect(adminRead.data!.apiKey).toMatchObject({ id: member.apiKey.id });
    const foreign = await gql(server.url, OneKey, { id: member.apiKey.id }, { key: other.apiKey });
    expect(codes(foreign)).toEqual(['NOT_FOUND']);
  });
});

describe('teamMembers', () => {
  it('lists the team for admins, FORBIDDEN for members, and never another team', async () => {
    const member = await addUser(server, server.teamId);
    const teamAdmin = await addUser(server, server.teamId, 'TEAM_ADMIN');
    await addTeam(server);

    const res = await gql(server.url, Members, {}, { key: teamAdmin.key });
    expect(res.errors).toBeUndefined();
    const emails = res.data!.teamMembers.map((u) => u.email);
    expect(emails).toContain(member.user.email);
    const all = await server.services.prisma.user.count({ where: { teamId: server.teamId } });
    expect(emails).toHaveLength(all);

    const refused = await gql(server.url, Members, {}, { key: member.key });
    expect(refused.status).toBe(200);
    expect(codes(refused)).toEqual(['FORBIDDEN']);
    expect(refused.data ?? null).toBeNull();
  });
});
