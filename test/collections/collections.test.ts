// Collections and their access keys over HTTP: validation, sharing, revocation, deletion.
import { beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { codes, gql } from '../helpers/client.js';
import { addTeam, addUser, principalOf } from '../helpers/fixtures.js';
import { useTestServer } from '../helpers/server.js';

/* eslint-disable @typescript-eslint/no-explicit-any */

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

let owner: Awaited<ReturnType<typeof addUser>>;
const server = useTestServer();
beforeAll(async () => {
  owner = await addUser(server, server.teamId);
});

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
      team: { id: server.teamId },
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
    expect(revoked.data!.revokeCollectionAccessKey).toMatchObject({
      status: 'REVOKED',
      revocationReason: 'REVOKED_BY_OWNER',
      revokedBy: { id: owner.user.id },
    });
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
      expect(k).toMatchObject({ status: 'REVOKED', revocationReason: 'COLLECTION_DELETED', collection: { id: c.id, name: 'Doomed' } });
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

// Raw requests for the arguments and limits added by issue 14 (paging, caps, delete rights).
async function raw(query: string, variables: Record<string, unknown>, key: string) {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as {
    data?: Record<string, any> | null;
    errors?: { message: string; extensions?: Record<string, unknown> }[];
  };
  return { status: res.status, ...body };
}

describe('deleteCollection (SPEC §5): its creator or an admin; keys revoked as COLLECTION_DELETED', () => {
  it("a member may not delete another member's collection: FORBIDDEN, nothing changed", async () => {
    const c = await newCollection('Not yours');
    const { accessKey } = await share(c.id);
    const adminsKey = await gql(server.url, Share, { id: c.id }, { key: server.adminKey });
    const other = await addUser(server, server.teamId);
    const res = await raw('mutation($id: ID!) { deleteCollection(id: $id) { id } }', { id: c.id }, other.key);
    expect(codes(res)).toEqual(['FORBIDDEN']);
    const stored = await server.services.prisma.collection.findUniqueOrThrow({ where: { id: c.id } });
    expect(stored.deletedAt).toBeNull();
    for (const id of [accessKey.id, adminsKey.data!.shareCollection.accessKey.id]) {
      expect((await server.services.prisma.apiKey.findUniqueOrThrow({ where: { id } })).status).toBe('ENABLED');
    }
  });

  it("the creator's delete revokes every access key of it, an admin's too, as COLLECTION_DELETED by the creator; the owners are told", async () => {
    const c = await newCollection('Mine to delete');
    await share(c.id);
    const adminsKey = (await gql(server.url, Share, { id: c.id }, { key: server.adminKey })).data!.shareCollection;
    const res = await raw('mutation($id: ID!) { deleteCollection(id: $id) { id deletedAt } }', { id: c.id }, owner.key);
    expect(res.errors).toBeUndefined();
    const keys = await gql(server.url, Keys, { collectionId: c.id }, { key: server.adminKey });
    expect(keys.data!.collectionAccessKeys).toHaveLength(2);
    for (const k of keys.data!.collectionAccessKeys) {
      expect(k).toMatchObject({ status: 'REVOKED', revocationReason: 'COLLECTION_DELETED' });
    }
    const stored = await server.services.prisma.apiKey.findUniqueOrThrow({ where: { id: adminsKey.accessKey.id } });
    expect(stored).toMatchObject({ revocationReason: 'COLLECTION_DELETED', revokedById: owner.user.id });
    const notice = await server.services.prisma.notification.findFirst({ where: { keyId: adminsKey.accessKey.id } });
    expect(notice?.message).toMatch(/collection was deleted/);
  });
});

describe('collections are paged (SPEC §4, §5): newest first, first (default 50, at most 500), after = last id', () => {
  it('pages through every collection once, in order; the default page is 50; first over 500 is refused', async () => {
    const team = await addTeam(server);
    const p = await principalOf(server, team.apiKey);
    const made: string[] = [];
    for (let i = 0; i < 57; i++) made.push((await server.services.collections.create(p, { name: `c${i}` })).id);
    const newestFirst = [...made].reverse();
    const list = 'query($first: Int, $after: ID) { collections(first: $first, after: $after) { id } }';

    const byDefault = await raw('{ collections { id } }', {}, team.apiKey);
    expect(byDefault.data!.collections.map((c: { id: string }) => c.id)).toEqual(newestFirst.slice(0, 50));

    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: Awaited<ReturnType<typeof raw>> = await raw(list, { first: 20, after }, team.apiKey);
      expect(page.errors).toBeUndefined();
      const ids = page.data!.collections.map((c: { id: string }) => c.id);
      seen.push(...ids);
      if (ids.length < 20) break;
      after = ids.at(-1)!;
    }
    expect(seen).toEqual(newestFirst);

    // A collection deleted since still marks where its page ended.
    await server.services.collections.delete(p, newestFirst[19]!);
    const next = await raw(list, { first: 5, after: newestFirst[19] }, team.apiKey);
    expect(next.data!.collections.map((c: { id: string }) => c.id)).toEqual(newestFirst.slice(20, 25));

    expect((await raw(list, { first: 500 }, team.apiKey)).errors).toBeUndefined();
    for (const first of [501, -1]) {
      const refused = await raw(list, { first }, team.apiKey);
      expect(codes(refused)).toEqual(['BAD_USER_INPUT']);
      expect(refused.errors![0].extensions).toMatchObject({ field: 'first', limit: 'maxPageSize' });
    }
    // Another team's id is no place to start from.
    const foreign = await raw(list, { after: made[0] }, owner.key);
    expect(foreign.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
  });

  it('collectionAccessKeys, apiKeys, teamMembers and exposedApiKeys take first and after too', async () => {
    const c = await newCollection('Paged keys');
    const shared: string[] = [];
    for (let i = 0; i < 4; i++) shared.push((await share(c.id)).accessKey.id);
    const newestFirst = [...shared].reverse();
    const first = await raw('query($c: ID) { collectionAccessKeys(collectionId: $c, first: 2) { id } }', { c: c.id }, owner.key);
    expect(first.data!.collectionAccessKeys.map((k: { id: string }) => k.id)).toEqual(newestFirst.slice(0, 2));
    const second = await raw(
      'query($c: ID, $a: ID) { collectionAccessKeys(collectionId: $c, first: 2, after: $a) { id } }',
      { c: c.id, a: newestFirst[1] },
      owner.key,
    );
    expect(second.data!.collectionAccessKeys.map((k: { id: string }) => k.id)).toEqual(newestFirst.slice(2, 4));

    const mine = await raw('{ apiKeys(first: 1) { id } }', {}, owner.key);
    expect(mine.data!.apiKeys).toEqual([{ id: owner.apiKey.id }]);
    const none = await raw('query($a: ID) { apiKeys(first: 10, after: $a) { id } }', { a: owner.apiKey.id }, owner.key);
    expect(none.data!.apiKeys).toEqual([]);

    const members = await raw('{ teamMembers(first: 1) { id } }', {}, server.adminKey);
    expect(members.data!.teamMembers).toHaveLength(1);
    const rest = await raw(
      'query($a: ID) { teamMembers(first: 500, after: $a) { id } }',
      { a: members.data!.teamMembers[0].id },
      server.adminKey,
    );
    expect(rest.data!.teamMembers.map((u: { id: string }) => u.id)).toContain(owner.user.id);
    expect(rest.data!.teamMembers.map((u: { id: string }) => u.id)).not.toContain(members.data!.teamMembers[0].id);

    for (const q of [
      '{ exposedApiKeys(first: 501) { id } }',
      '{ teamMembers(first: 501) { id } }',
      '{ apiKeys(first: 501) { id } }',
      '{ collectionAccessKeys(first: 501) { id } }',
    ]) {
      const refused = await raw(q, {}, server.adminKey);
      expect(refused.errors![0].extensions, q).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first', limit: 'maxPageSize' });
    }
  });
});

describe('caps (SPEC §5): collections per team, bytes per collection', () => {
  const capped = useTestServer({ MAX_COLLECTIONS_PER_TEAM: '5', MAX_COLLECTION_BYTES: '10000', RATE_LIMIT_PER_MINUTE: '10000' });

  const create = 'mutation($i: CollectionInput!) { createCollection(input: $i) { id } }';
  async function call(key: string, query: string, variables: Record<string, unknown>) {
    const res = await fetch(capped.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as { data?: Record<string, any> | null; errors?: { extensions?: Record<string, unknown> }[] };
  }

  it('at most MAX_COLLECTIONS_PER_TEAM live collections, also when created all at once; a delete frees a place', async () => {
    const team = await addTeam(capped);
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => call(team.apiKey, create, { i: { name: `n${i}` } })));
    const ok = results.filter((r) => !r.errors);
    const refused = results.filter((r) => r.errors);
    expect(ok).toHaveLength(5);
    for (const r of refused) expect(r.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'maxCollectionsPerTeam' });
    expect(await capped.services.prisma.collection.count({ where: { teamId: team.teamId } })).toBe(5);
    // Another team has its own count.
    const other = await addTeam(capped);
    expect((await call(other.apiKey, create, { i: { name: 'theirs' } })).errors).toBeUndefined();

    const gone = ok[0]!.data!.createCollection.id;
    expect((await call(team.apiKey, 'mutation($id: ID!) { deleteCollection(id: $id) { id } }', { id: gone })).errors).toBeUndefined();
    expect((await call(team.apiKey, create, { i: { name: 'again' } })).errors).toBeUndefined();
    expect((await call(team.apiKey, create, { i: { name: 'one too many' } })).errors![0].extensions).toMatchObject({
      limit: 'maxCollectionsPerTeam',
    });
  });

  it('at most MAX_COLLECTION_BYTES of requests, on create and on update', async () => {
    const team = await addTeam(capped);
    const requests = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ name: `r${i}`, method: 'GET', url: `https://example.com/${'p'.repeat(80)}/${i}` }));
    const fits = await call(team.apiKey, create, { i: { name: 'fits', requests: requests(50) } });
    expect(fits.errors).toBeUndefined();
    const tooBig = await call(team.apiKey, create, { i: { name: 'big', requests: requests(120) } });
    expect(tooBig.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.requests', limit: 'maxCollectionBytes' });
    const update = await call(team.apiKey, 'mutation($id: ID!, $i: CollectionInput!) { updateCollection(id: $id, input: $i) { id } }', {
      id: fits.data!.createCollection.id,
      i: { name: 'fits', requests: requests(120) },
    });
    expect(update.errors![0].extensions).toMatchObject({ limit: 'maxCollectionBytes' });
    expect(await capped.services.prisma.collection.count({ where: { teamId: team.teamId } })).toBe(1);
  });
});
