// Collections and their access keys over HTTP: validation, sharing, revocation, deletion.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { codes, gql } from '../helpers/client.js';
import { addTeam, addUser, viewerTeamId } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const Create = graphql(`
  mutation ColCreate($input: CollectionInput!) {
    createCollection(input: $input) { id name description requests createdBy { id } createdAt updatedAt deletedAt }
  }
`);
const Update = graphql(`
  mutation ColUpdate($id: ID!, $input: CollectionInput!) { updateCollection(id: $id, input: $input) { id name description requests updatedAt } }
`);
const Delete = graphql(`mutation ColDelete($id: ID!) { deleteCollection(id: $id) { id deletedAt } }`);
const Share = graphql(`
  mutation ColShare($id: ID!) {
    shareCollection(collectionId: $id) { secret accessKey { id hint status createdBy { id } collection { id name } } }
  }
`);
const Revoke = graphql(`
  mutation ColRevoke($id: ID!) { revokeCollectionAccessKey(id: $id) { id status revokedAt revocationReason revokedBy { id } } }
`);
const Read = graphql(`query ColRead($id: ID!) { collection(id: $id) { id name requests } }`);
const ReadCreator = graphql(`query ColReadCreator($id: ID!) { collection(id: $id) { id createdBy { id } } }`);
const List = graphql(`query ColList { collections { id } }`);
const Keys = graphql(`
  query ColKeys($collectionId: ID) {
    collectionAccessKeys(collectionId: $collectionId) {
      id hint status lastUsedAt revokedAt revocationReason createdBy { id } createdAt collection { id name deletedAt }
    }
  }
`);
const Viewer = graphql(`
  query ColViewer { viewer { keyKind user { id } team { id } apiKey { id } accessKey { id hint collection { id } } } }
`);
const Usage = graphql(`query ColUsage { usage { limit remaining } }`);

let server: TestServer;
let teamId: string;
let owner: Awaited<ReturnType<typeof addUser>>;
beforeAll(async () => {
  server = await startTestServer();
  teamId = await viewerTeamId(server, server.adminKey);
  owner = await addUser(server, teamId);
});
afterAll(() => server?.close());

const request = { name: 'List users', method: 'GET', url: 'https://api.example.com/users', headers: { Accept: 'application/json' } };

async function newCollection(name = 'Payments API') {
  const res = await gql(server.url, Create, { input: { name, description: 'd', requests: [request] } }, { key: owner.key });
  expect(res.errors).toBeUndefined();
  return res.data!.createCollection;
}

async function share(id: string) {
  const res = await gql(server.url, Share, { id }, { key: owner.key });
  expect(res.errors).toBeUndefined();
  return res.data!.shareCollection;
}

describe('collections', () => {
  it('creates, reads, updates and lists', async () => {
    const c = await newCollection('  Orders  ');
    expect(c).toMatchObject({ name: 'Orders', description: 'd', requests: [request], createdBy: { id: owner.user.id }, deletedAt: null });
    const updated = await gql(server.url, Update, { id: c.id, input: { name: 'Orders v2', requests: [] } }, { key: owner.key });
    expect(updated.data!.updateCollection).toMatchObject({ name: 'Orders v2', description: 'd', requests: [] });
    const list = await gql(server.url, List, {}, { key: owner.key });
    expect(list.data!.collections.map((x) => x.id)).toContain(c.id);
  });

  it.each([
    [{ name: 'x', requests: { not: 'a list' } }, /^input\.requests: /],
    [{ name: 'x', requests: [{ ...request, method: 'FETCH' }] }, /^input\.requests\.0\.method: /],
    [{ name: 'x', requests: [request, { ...request, url: 'not a url' }] }, /^input\.requests\.1\.url: /],
    [{ name: 'x', requests: [{ ...request, headers: { a: 1 } }] }, /^input\.requests\.0\.headers\.a: /],
    [{ name: 'x', requests: [{ ...request, extra: true }] }, /^input\.requests\.0: /],
    [{ name: '   ' }, /^input\.name: /],
    [{ name: 'n'.repeat(101) }, /^input\.name: /],
  ])('rejects a bad input %j naming the path', async (input, message) => {
    const before = await server.services.prisma.collection.count();
    const res = await gql(server.url, Create, { input }, { key: owner.key });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors![0].message).toMatch(message);
    expect(await server.services.prisma.collection.count()).toBe(before);
  });
});

describe('collection access keys', () => {
  it('a new key on every share, each read-only for its one collection', async () => {
    const c = await newCollection();
    const first = await share(c.id);
    const second = await share(c.id);
    expect(first.secret).toMatch(/^kpc_[0-9A-Za-z]{36}$/);
    expect(second.secret).not.toBe(first.secret);
    expect(first.accessKey).toMatchObject({ status: 'ENABLED', createdBy: { id: owner.user.id }, collection: { id: c.id } });
    expect(first.accessKey.hint).toBe(`kpc_…${first.secret.slice(-4)}`);

    for (const { secret } of [first, second]) {
      const read = await gql(server.url, Read, { id: c.id }, { key: secret });
      expect(read.data!.collection).toEqual({ id: c.id, name: 'Payments API', requests: [request] });
    }

    const viewer = await gql(server.url, Viewer, {}, { key: first.secret });
    expect(viewer.data!.viewer).toEqual({
      keyKind: 'COLLECTION_ACCESS',
      user: null,
      team: { id: teamId },
      apiKey: null,
      accessKey: { id: first.accessKey.id, hint: first.accessKey.hint, collection: { id: c.id } },
    });

    // A read-only key does not see team members: createdBy is FORBIDDEN.
    const creator = await gql(server.url, ReadCreator, { id: c.id }, { key: first.secret });
    expect(codes(creator)).toEqual(['FORBIDDEN']);
    // Every other root field says why.
    const list = await gql(server.url, List, {}, { key: first.secret });
    expect(codes(list)).toEqual(['FORBIDDEN']);
    expect(list.errors![0].message).toMatch(/read-only collection access key/);
  });

  it('goes through the same rate limit (headers) and records its use', async () => {
    const c = await newCollection();
    const { secret, accessKey } = await share(c.id);
    const res = await gql(server.url, Usage, {}, { key: secret });
    expect(res.data!.usage.limit).toBe(60);
    expect(res.headers.get('x-ratelimit-remaining')).toBe(String(res.data!.usage.remaining));
    await server.services.lastUsed.flush();
    const keys = await gql(server.url, Keys, { collectionId: c.id }, { key: owner.key });
    expect(keys.data!.collectionAccessKeys.find((k) => k.id === accessKey.id)!.lastUsedAt).not.toBeNull();
  });

  it('revoked: fails at once; listed with the revocation', async () => {
    const c = await newCollection();
    const { secret, accessKey } = await share(c.id);
    expect((await gql(server.url, Read, { id: c.id }, { key: secret })).status).toBe(200);
    const revoked = await gql(server.url, Revoke, { id: accessKey.id }, { key: owner.key });
    expect(revoked.data!.revokeCollectionAccessKey).toMatchObject({ status: 'REVOKED', revocationReason: 'REVOKED_BY_OWNER', revokedBy: { id: owner.user.id } });
    const after = await gql(server.url, Read, { id: c.id }, { key: secret });
    expect(after.status).toBe(401);
    expect(after.errors![0].extensions?.reason).toBe('revoked');
  });

  it('an admin revokes a member key as REVOKED_BY_ADMIN', async () => {
    const c = await newCollection();
    const { accessKey } = await share(c.id);
    const res = await gql(server.url, Revoke, { id: accessKey.id }, { key: server.adminKey });
    expect(res.data!.revokeCollectionAccessKey.revocationReason).toBe('REVOKED_BY_ADMIN');
  });

  it('deleting a collection revokes its keys in the same change; the tombstone still shows on them', async () => {
    const c = await newCollection('Doomed');
    const keys = [await share(c.id), await share(c.id)];
    const deleted = await gql(server.url, Delete, { id: c.id }, { key: server.adminKey });
    expect(deleted.data!.deleteCollection.deletedAt).not.toBeNull();

    for (const { secret } of keys) expect((await gql(server.url, Read, { id: c.id }, { key: secret })).status).toBe(401);
    const read = await gql(server.url, Read, { id: c.id }, { key: owner.key });
    expect(codes(read)).toEqual(['NOT_FOUND']);
    expect((await gql(server.url, List, {}, { key: owner.key })).data!.collections.map((x) => x.id)).not.toContain(c.id);

    const listed = await gql(server.url, Keys, { collectionId: c.id }, { key: owner.key });
    expect(listed.data!.collectionAccessKeys).toHaveLength(2);
    for (const k of listed.data!.collectionAccessKeys) {
      expect(k).toMatchObject({ status: 'REVOKED', revocationReason: 'REVOKED_BY_ADMIN', collection: { id: c.id, name: 'Doomed' } });
      expect(k.collection.deletedAt).toBe(deleted.data!.deleteCollection.deletedAt);
    }
    // Deleting again: it is gone.
    expect(codes(await gql(server.url, Delete, { id: c.id }, { key: owner.key }))).toEqual(['NOT_FOUND']);
  });

  it("lists the whole team's keys (other members' included), and never another team's", async () => {
    const c = await newCollection();
    const mine = await share(c.id);
    const other = await addTeam(server);
    const theirs = await gql(server.url, Keys, {}, { key: other.apiKey });
    expect(theirs.data!.collectionAccessKeys).toEqual([]);
    const all = await gql(server.url, Keys, {}, { key: server.adminKey });
    expect(all.data!.collectionAccessKeys.map((k) => k.id)).toContain(mine.accessKey.id);
    const foreign = await gql(server.url, Keys, { collectionId: c.id }, { key: other.apiKey });
    expect(codes(foreign)).toEqual(['NOT_FOUND']);
  });
});
