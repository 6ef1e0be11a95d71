// Every revocation notifies: apiKeyRevoked over graphql-ws and SSE to the owner and the team's
// admins only, a persisted notification for the owner (paged, marked read), notificationAdded,
// and the revoked key's own socket gets its event before it is closed with 4401.
import type { ResultOf } from '@graphql-typed-document-node/core';
import { describe, expect, it } from 'vitest';
import { sharedExecutionStats } from '../../src/realtime/shared-execution.js';
import { graphql } from '../generated/index.js';
import { codes, gql, openSse } from '../helpers/client.js';
import { addKey, addTeam, addUser } from '../helpers/fixtures.js';
import { useTestServer } from '../helpers/server.js';
import { openWsSession, settle } from '../helpers/ws-session.js';

const RevokeApiKeys = graphql(`
  mutation NoticeRevoke($ids: [ID!]!) { revokeApiKeys(ids: $ids) { revokedCount } }
`);
const DeleteKey = graphql(`
  mutation NoticeDelete($id: ID!) { deleteApiKey(id: $id) { id status } }
`);
const CreateCollection = graphql(`
  mutation NoticeCreateCollection($input: CollectionInput!) { createCollection(input: $input) { id } }
`);
const Share = graphql(`
  mutation NoticeShare($id: ID!) { shareCollection(collectionId: $id) { secret accessKey { id } } }
`);
const RevokeAccessKey = graphql(`
  mutation NoticeRevokeAccessKey($id: ID!) { revokeCollectionAccessKey(id: $id) { id } }
`);
const Notifications = graphql(`
  query NoticeList($unreadOnly: Boolean, $first: Int, $after: String) {
    notifications(unreadOnly: $unreadOnly, first: $first, after: $after) {
      totalCount
      unreadCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id kind message readAt createdAt apiKey { id name hint status } accessKey { id hint } } }
    }
  }
`);
const MarkRead = graphql(`
  mutation NoticeMarkRead($ids: [ID!]) { markNotificationsRead(ids: $ids) }
`);

const REVOKED_EVENT = `subscription {
  apiKeyRevoked { apiKey { id name hint status } accessKey { id hint collection { name } } reason revokedAt revokedBy { id name } }
}`;

type RevokedEvent = {
  data: {
    apiKeyRevoked: {
      apiKey: { id: string; name: string; hint: string; status: string } | null;
      accessKey: { id: string; hint: string; collection: { name: string } } | null;
      reason: string;
      revokedAt: string;
      revokedBy: { id: string; name: string } | null;
    };
  };
};

const server = useTestServer();

describe('apiKeyRevoked', () => {
  it('reaches the owner and the admins, not another member nor another team', async () => {
    const alice = await addUser(server, server.teamId);
    const aliceOther = await addKey(server, alice.user, 'alice ci');
    const bob = await addUser(server, server.teamId);
    const admin = await addUser(server, server.teamId, 'TEAM_ADMIN');
    const other = await addTeam(server);
    const sessions = await Promise.all([alice.key, bob.key, server.adminKey, other.apiKey].map((k) => openWsSession(server.url, k)));
    const [aliceWs, bobWs, adminWs, otherWs] = sessions;
    try {
      for (const s of sessions) s.subscribe('r', REVOKED_EVENT);
      await settle();
      const before = Date.now();
      const res = await gql(server.url, RevokeApiKeys, { ids: [aliceOther.apiKey.id] }, { key: admin.key });
      expect(res.data?.revokeApiKeys.revokedCount).toBe(1);

      const [forAlice] = await aliceWs.nexts<RevokedEvent>('r', 1);
      const [forAdmin] = await adminWs.nexts<RevokedEvent>('r', 1);
      expect(forAdmin).toEqual(forAlice);
      const event = forAlice!.data.apiKeyRevoked;
      expect(event).toMatchObject({
        apiKey: { id: aliceOther.apiKey.id, name: 'alice ci', hint: `kp_…${aliceOther.apiKey.hint}`, status: 'REVOKED' },
        accessKey: null,
        reason: 'REVOKED_BY_ADMIN',
        revokedBy: { id: admin.user.id, name: admin.user.name },
      });
      expect(Date.parse(event.revokedAt)).toBeGreaterThanOrEqual(before - 1_000);
      await settle(200);
      expect(bobWs.log.filter((m) => m.type === 'next')).toEqual([]);
      expect(otherWs.log.filter((m) => m.type === 'next')).toEqual([]);
      // Alice's socket was authenticated with another key: it stays open.
      expect(aliceWs.log.some((m) => m.type === 'close')).toBe(false);
    } finally {
      for (const s of sessions) s.close();
    }
  });

  it('gives the revoked key its own event first, then closes its socket with 4401 and the cause', async () => {
    const carol = await addUser(server, server.teamId);
    const ws = await openWsSession(server.url, carol.key);
    ws.subscribe('mine', REVOKED_EVENT);
    ws.subscribe('mine-too', 'subscription { apiKeyRevoked { reason } }');
    ws.subscribe('notes', 'subscription { notificationAdded { kind message apiKey { id } } }');
    await settle();
    const res = await gql(server.url, DeleteKey, { id: carol.apiKey.id }, { key: carol.key });
    expect(res.data?.deleteApiKey.status).toBe('REVOKED');
    const closed = await ws.closed;
    expect(closed.code).toBe(4401);
    expect(closed.reason).toMatch(/deleted/i);
    const nextIndex = ws.log.findIndex((m) => m.type === 'next' && 'id' in m && m.id === 'mine');
    const closeIndex = ws.log.findIndex((m) => m.type === 'close');
    expect(nextIndex).toBeGreaterThanOrEqual(0);
    expect(nextIndex).toBeLessThan(closeIndex);
    // Every apiKeyRevoked subscription of the socket had it before the close.
    const otherIndex = ws.log.findIndex((m) => m.type === 'next' && 'id' in m && m.id === 'mine-too');
    expect(otherIndex).toBeGreaterThanOrEqual(0);
    expect(otherIndex).toBeLessThan(closeIndex);
    const event = (ws.log[nextIndex] as { payload: RevokedEvent }).payload.data.apiKeyRevoked;
    expect(event).toMatchObject({ apiKey: { id: carol.apiKey.id }, reason: 'REVOKED_BY_OWNER', revokedBy: { id: carol.user.id } });
  });

  it('refuses every subscription to a collection access key when it starts', async () => {
    const owner = await addUser(server, server.teamId, 'TEAM_ADMIN');
    const collection = await gql(server.url, CreateCollection, { input: { name: 'Subscribed' } }, { key: owner.key });
    const shared = await gql(server.url, Share, { id: collection.data!.createCollection.id }, { key: owner.key });
    const ws = await openWsSession(server.url, shared.data!.shareCollection.secret);
    try {
      ws.subscribe('r', REVOKED_EVENT);
      ws.subscribe('n', 'subscription { notificationAdded { id } }');
      await settle();
      const refusals = ws.log.filter((m) => m.type === 'error' || (m.type === 'next' && JSON.stringify(m).includes('FORBIDDEN')));
      expect(refusals).toHaveLength(2);
      expect(JSON.stringify(refusals)).toContain('FORBIDDEN');
    } finally {
      ws.close();
    }
  });

  it('closes at once a revoked key socket that is not subscribed to apiKeyRevoked', async () => {
    const dave = await addUser(server, server.teamId);
    const ws = await openWsSession(server.url, dave.key);
    ws.subscribe('gen', 'subscription { apiKeyGenerated { id } }');
    await settle();
    const started = Date.now();
    await gql(server.url, RevokeApiKeys, { ids: [dave.apiKey.id] }, { key: server.adminKey });
    expect((await ws.closed).code).toBe(4401);
    expect(Date.now() - started).toBeLessThan(1_500); // not the delivery grace of 2 s
  });

  it('carries a collection access key in accessKey, for its creator and the admins', async () => {
    const erin = await addUser(server, server.teamId);
    const collection = await gql(server.url, CreateCollection, { input: { name: 'Payments' } }, { key: erin.key });
    const shared = await gql(server.url, Share, { id: collection.data!.createCollection.id }, { key: erin.key });
    const accessKeyId = shared.data!.shareCollection.accessKey.id;
    const [erinWs, adminWs] = await Promise.all([openWsSession(server.url, erin.key), openWsSession(server.url, server.adminKey)]);
    try {
      erinWs.subscribe('r', REVOKED_EVENT);
      adminWs.subscribe('r', REVOKED_EVENT);
      await settle();
      await gql(server.url, RevokeAccessKey, { id: accessKeyId }, { key: server.adminKey });
      const [[forErin], [forAdmin]] = await Promise.all([erinWs.nexts<RevokedEvent>('r', 1), adminWs.nexts<RevokedEvent>('r', 1)]);
      expect(forErin).toEqual(forAdmin);
      expect(forErin!.data.apiKeyRevoked).toMatchObject({
        apiKey: null,
        accessKey: { id: accessKeyId, collection: { name: 'Payments' } },
        reason: 'REVOKED_BY_ADMIN',
      });
      const list = await gql(server.url, Notifications, { first: 1 }, { key: erin.key });
      expect(list.data!.notifications.edges[0]!.node).toMatchObject({ apiKey: null, accessKey: { id: accessKeyId } });
      expect(list.data!.notifications.edges[0]!.node.message).toContain('Payments');
    } finally {
      erinWs.close();
      adminWs.close();
    }
  });

  it('streams over SSE too, and the revoked key gets its own event before its streams end', async () => {
    const frank = await addUser(server, server.teamId);
    const other = await addKey(server, frank.user, 'second');
    const revocations = await openSse(server.url, frank.key, 'subscription { apiKeyRevoked { apiKey { id } reason } }');
    const generated = await openSse(server.url, frank.key, 'subscription { apiKeyGenerated { id } }');
    expect(revocations.response.status).toBe(200);
    await settle();
    await gql(server.url, RevokeApiKeys, { ids: [other.apiKey.id] }, { key: server.adminKey });
    const first = await revocations.readUntil('REVOKED_BY_ADMIN');
    expect(first.text).toContain(`{"data":{"apiKeyRevoked":{"apiKey":{"id":"${other.apiKey.id}"},"reason":"REVOKED_BY_ADMIN"}}}`);

    await gql(server.url, DeleteKey, { id: frank.apiKey.id }, { key: frank.key });
    const own = await revocations.readUntil(null, 3_000);
    expect(own.text).toContain(`{"data":{"apiKeyRevoked":{"apiKey":{"id":"${frank.apiKey.id}"},"reason":"REVOKED_BY_OWNER"}}}`);
    expect(own.ended).toBe(true);
    expect((await generated.readUntil(null, 3_000)).ended).toBe(true);
  });

  it('executes the selection once per event for many subscribers with the same document and visibility', async () => {
    const admins = await Promise.all(Array.from({ length: 20 }, () => addUser(server, server.teamId, 'TEAM_ADMIN')));
    const victim = await addUser(server, server.teamId);
    const sessions = await Promise.all(admins.map((a) => openWsSession(server.url, a.key)));
    try {
      for (const s of sessions) s.subscribe('r', REVOKED_EVENT);
      await settle(400);
      const before = { ...sharedExecutionStats };
      await gql(server.url, RevokeApiKeys, { ids: [victim.apiKey.id] }, { key: server.adminKey });
      const events = await Promise.all(sessions.map((s) => s.nexts<RevokedEvent>('r', 1)));
      expect(new Set(events.map((e) => JSON.stringify(e)))).toHaveProperty('size', 1);
      expect(sharedExecutionStats.deliveries - before.deliveries).toBe(20);
      expect(sharedExecutionStats.executions - before.executions).toBe(1);
    } finally {
      for (const s of sessions) s.close();
    }
  });
});

describe('notifications', () => {
  it('are written for the owner, paged newest first without gaps over ties, and marked read', async () => {
    const gina = await addUser(server, server.teamId);
    const keys = await Promise.all(Array.from({ length: 7 }, (_, i) => addKey(server, gina.user, `bulk ${i}`)));
    // One bulk revocation: seven notifications with one createdAt.
    await gql(server.url, RevokeApiKeys, { ids: keys.map((k) => k.apiKey.id) }, { key: server.adminKey });

    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await gql(server.url, Notifications, { first: 3, after }, { key: gina.key });
      const c: ResultOf<typeof Notifications>['notifications'] = page.data!.notifications;
      expect(c.totalCount).toBe(7);
      expect(c.unreadCount).toBe(7);
      seen.push(...c.edges.map((e) => e.node.id));
      for (const e of c.edges) {
        expect(e.node.kind).toBe('API_KEY_REVOKED');
        expect(e.node.message).toContain(e.node.apiKey!.name);
        expect(e.node.message).toContain(e.node.apiKey!.hint);
        expect(e.node.apiKey!.status).toBe('REVOKED');
      }
      if (!c.pageInfo.hasNextPage) break;
      after = c.pageInfo.endCursor;
    }
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);

    expect((await gql(server.url, MarkRead, { ids: seen.slice(0, 2) }, { key: gina.key })).data?.markNotificationsRead).toBe(2);
    expect((await gql(server.url, MarkRead, { ids: seen.slice(0, 2) }, { key: gina.key })).data?.markNotificationsRead).toBe(0);
    const unread = await gql(server.url, Notifications, { unreadOnly: true }, { key: gina.key });
    expect(unread.data!.notifications).toMatchObject({ totalCount: 5, unreadCount: 5 });
    expect(unread.data!.notifications.edges.map((e) => e.node.id)).toEqual(seen.slice(2));
    expect((await gql(server.url, MarkRead, { ids: null }, { key: gina.key })).data?.markNotificationsRead).toBe(5);
    const all = await gql(server.url, Notifications, {}, { key: gina.key });
    expect(all.data!.notifications).toMatchObject({ totalCount: 7, unreadCount: 0 });
    expect(all.data!.notifications.edges.every((e) => e.node.readAt !== null)).toBe(true);
  });

  it("are the viewer's alone: another user's ids are NOT_FOUND and change nothing", async () => {
    const hank = await addUser(server, server.teamId);
    const ivy = await addUser(server, server.teamId);
    const extra = await addKey(server, hank.user, 'hank extra');
    await gql(server.url, RevokeApiKeys, { ids: [extra.apiKey.id] }, { key: server.adminKey });
    const hanks = await gql(server.url, Notifications, {}, { key: hank.key });
    const id = hanks.data!.notifications.edges[0]!.node.id;
    expect((await gql(server.url, Notifications, {}, { key: ivy.key })).data!.notifications.totalCount).toBe(0);
    const res = await gql(server.url, MarkRead, { ids: [id] }, { key: ivy.key });
    expect(codes(res)).toEqual(['NOT_FOUND']);
    expect((await gql(server.url, Notifications, { unreadOnly: true }, { key: hank.key })).data!.notifications.totalCount).toBe(1);
    expect(codes(await gql(server.url, Notifications, { after: 'nonsense' }, { key: hank.key }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gql(server.url, Notifications, { first: 1000 }, { key: hank.key }))).toEqual(['BAD_USER_INPUT']);
  });

  it('notificationAdded pushes the new notification to its recipient only', async () => {
    const jack = await addUser(server, server.teamId);
    const kim = await addUser(server, server.teamId);
    const extra = await addKey(server, jack.user, 'jack extra');
    const [jackWs, kimWs] = await Promise.all([openWsSession(server.url, jack.key), openWsSession(server.url, kim.key)]);
    try {
      const query = 'subscription { notificationAdded { id kind message readAt apiKey { id } } }';
      jackWs.subscribe('n', query);
      kimWs.subscribe('n', query);
      await settle();
      await gql(server.url, RevokeApiKeys, { ids: [extra.apiKey.id] }, { key: server.adminKey });
      const [event] = await jackWs.nexts<{ data: { notificationAdded: { id: string; apiKey: { id: string } } } }>('n', 1);
      expect(event!.data.notificationAdded).toMatchObject({ kind: 'API_KEY_REVOKED', readAt: null, apiKey: { id: extra.apiKey.id } });
      await settle(150);
      expect(kimWs.log.filter((m) => m.type === 'next')).toEqual([]);
    } finally {
      jackWs.close();
      kimWs.close();
    }
  });

  it('an expiry persisted by the job notifies the owner (reason EXPIRED, no actor)', async () => {
    const liam = await addUser(server, server.teamId);
    const doomed = await addKey(server, liam.user, 'short-lived');
    const ws = await openWsSession(server.url, liam.key);
    try {
      ws.subscribe('r', REVOKED_EVENT);
      await settle();
      await server.services.prisma.apiKey.update({ where: { id: doomed.apiKey.id }, data: { expiresAt: new Date(Date.now() - 1_000) } });
      expect(await server.services.expiryJob.run()).toBeGreaterThanOrEqual(1);
      const [event] = await ws.nexts<RevokedEvent>('r', 1);
      expect(event!.data.apiKeyRevoked).toMatchObject({
        apiKey: { id: doomed.apiKey.id, status: 'REVOKED' },
        reason: 'EXPIRED',
        revokedBy: null,
      });
      const list = await gql(server.url, Notifications, { first: 1 }, { key: liam.key });
      expect(list.data!.notifications.edges[0]!.node.message).toMatch(/expired/);
    } finally {
      ws.close();
    }
  });
});

describe('a bulk revocation of 10,000 keys', () => {
  it('is one transaction with one notification per key and one email per owner', async () => {
    const owners = await Promise.all([1, 2, 3].map(() => addUser(server, server.teamId)));
    const rows = Array.from({ length: 10_000 }, (_, i) => ({
      teamId: server.teamId,
      name: `bulk ${i}`,
      hash: `bulk-${i}-${Math.random().toString(36).slice(2)}`,
      hint: 'AAAA',
      createdById: owners[i % 3]!.user.id,
    }));
    const ids = (await server.services.prisma.apiKey.createManyAndReturn({ data: rows, select: { id: true } })).map((r) => r.id);
    const emailsBefore = await server.services.prisma.emailOutbox.count();
    const started = performance.now();
    const res = await gql(server.url, RevokeApiKeys, { ids }, { key: server.adminKey });
    const tookMs = performance.now() - started;
    expect(res.errors).toBeUndefined();
    expect(res.data?.revokeApiKeys.revokedCount).toBe(10_000);
    for (const owner of owners) {
      const notes = await server.services.prisma.notification.count({ where: { userId: owner.user.id, keyId: { in: ids } } });
      expect(notes).toBeGreaterThanOrEqual(3_333);
    }
    expect(await server.services.prisma.notification.count({ where: { keyId: { in: ids } } })).toBe(10_000);
    expect((await server.services.prisma.emailOutbox.count()) - emailsBefore).toBe(3);
    console.log(`revokeApiKeys of 10,000 keys: ${tookMs.toFixed(0)} ms`);
  }, 60_000);
});
