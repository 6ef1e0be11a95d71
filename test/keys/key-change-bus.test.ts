// One event per key change, on one bus (src/keys/events.ts), fed on every instance by the
// database's change feed: without Redis, a revocation on A reaches apiKeyRevoked subscribers on A
// and on B exactly once each (A's own publication and the feed's echo of it are one change), and
// the revoked key's socket on B gets its event before its 4401; an instance that lost the feed
// gets the revocations made meanwhile once it is back. Runs in every pass.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type KeyChanged, KeyChanges } from '../../src/keys/events.js';
import { type KeyplaneServer, startKeyplane } from '../../src/server.js';
import { graphql } from '../generated/index.js';
import { gql } from '../helpers/client.js';
import { addKey, addUser, principalOf } from '../helpers/fixtures.js';
import { makeTestEnv } from '../helpers/server.js';
import { createTcpProxy } from '../helpers/tcp-proxy.js';
import { openWsSession, settle } from '../helpers/ws-session.js';

const RevokeApiKeys = graphql(`
  mutation BusRevoke($ids: [ID!]!) { revokeApiKeys(ids: $ids) { revokedCount } }
`);
const Lifecycle = graphql(`
  mutation BusLifecycle($id: ID!, $expiresAt: DateTime) {
    renameApiKey(id: $id, name: "renamed") { id }
    setApiKeyExpiry(id: $id, expiresAt: $expiresAt) { id }
    off: setApiKeyEnabled(id: $id, enabled: false) { id }
    on: setApiKeyEnabled(id: $id, enabled: true) { id }
    regenerateApiKey(id: $id) { secret }
  }
`);
const Settings = graphql(`
  mutation BusSettings($days: Int) { updateApiKeySettings(input: { keyExpiryDays: $days }) { updatedKeyCount } }
`);
const Delete = graphql(`
  mutation BusDelete($id: ID!) { deleteApiKey(id: $id) { status } }
`);
const REVOKED = 'subscription { apiKeyRevoked { apiKey { id } reason revokedBy { id } } }';
type RevokedEvent = { data: { apiKeyRevoked: { apiKey: { id: string }; reason: string; revokedBy: { id: string } | null } } };

describe('two instances on one database, no Redis', () => {
  let testEnv: Awaited<ReturnType<typeof makeTestEnv>>;
  let a: KeyplaneServer;
  let b: KeyplaneServer;
  let adminKey: string;
  let teamId: string;
  let adminId: string;

  beforeAll(async () => {
    testEnv = await makeTestEnv({ REDIS_URL: '' });
    a = await startKeyplane(loadConfig(testEnv.env));
    b = await startKeyplane(loadConfig(testEnv.env));
    adminKey = a.bootstrapKey!;
    ({ teamId, userId: adminId } = await principalOf(a, adminKey));
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await testEnv?.cleanup();
  });

  it('a revocation on A reaches subscribers on A and on B once each; the key’s socket on B gets its event, then 4401', async () => {
    const { apiKey, key } = await addUser(a, teamId);
    const m = { apiKey, secret: key };
    const adminOnA = await openWsSession(a.url, adminKey);
    const adminOnB = await openWsSession(b.url, adminKey);
    const memberOnB = await openWsSession(b.url, m.secret);
    const onA: KeyChanged[] = [];
    const listener = (e: KeyChanged) => void (e.keyId === m.apiKey.id && onA.push(e));
    a.services.keyChanges.on('changed', listener);
    try {
      for (const s of [adminOnA, adminOnB, memberOnB]) s.subscribe('r', REVOKED);
      await settle(400);
      const res = await gql(a.url, RevokeApiKeys, { ids: [m.apiKey.id] }, { key: adminKey });
      expect(res.data?.revokeApiKeys.revokedCount).toBe(1);
      expect(onA.map((e) => e.change)).toEqual(['revoked']); // published before the answer
      const [fromB] = await adminOnB.nexts<RevokedEvent>('r', 1);
      expect(fromB!.data.apiKeyRevoked).toEqual({ apiKey: { id: m.apiKey.id }, reason: 'REVOKED_BY_ADMIN', revokedBy: { id: adminId } });
      const closed = await memberOnB.closed;
      expect(closed.code).toBe(4401);
      expect(closed.reason).toContain('revoked');
      const ownEvent = memberOnB.log.findIndex((msg) => msg.type === 'next');
      expect(ownEvent).toBeGreaterThanOrEqual(0);
      expect(ownEvent).toBeLessThan(memberOnB.log.findIndex((msg) => msg.type === 'close'));
      await settle(500); // the feed's echo of A's own publication has arrived on A by now
      expect(onA).toHaveLength(1);
      for (const s of [adminOnA, adminOnB]) {
        expect(s.log.filter((msg) => msg.type === 'next' && 'id' in msg && msg.id === 'r')).toHaveLength(1);
      }
    } finally {
      a.services.keyChanges.off('changed', listener);
      for (const s of [adminOnA, adminOnB, memberOnB]) s.close();
    }
  });

  it('every other change made on A is delivered once on A too: A sees what B hears from the feed', async () => {
    const { apiKey, secret } = await addKey(a, { id: adminId, teamId }, 'own');
    const heard = (server: KeyplaneServer) => {
      const changes: string[] = [];
      server.services.keyChanges.on('changed', (e) => void (e.keyId === apiKey.id && changes.push(e.change)));
      return changes;
    };
    const onA = heard(a);
    const onB = heard(b);
    await settle(300); // the creation's NOTIFY has gone by
    onA.length = 0;
    onB.length = 0;
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const lifecycle = await gql(a.url, Lifecycle, { id: apiKey.id, expiresAt }, { key: secret });
    expect(lifecycle.errors).toBeUndefined();
    const regenerated = lifecycle.data!.regenerateApiKey.secret;
    for (const days of [30, null]) {
      const settings = await gql(a.url, Settings, { days }, { key: adminKey });
      expect(settings.errors).toBeUndefined();
    }
    expect((await gql(a.url, Delete, { id: apiKey.id }, { key: regenerated })).data?.deleteApiKey.status).toBe('REVOKED');
    const expected = ['updated', 'updated', 'disabled', 'updated', 'regenerated', 'updated', 'updated', 'deleted'];
    expect(onA).toEqual(expected); // all published before each mutation answered
    const deadline = Date.now() + 5_000;
    while (onB.length < expected.length && Date.now() < deadline) await settle(20);
    await settle(300); // and any echo on A has arrived
    expect(onB).toEqual(expected);
    expect(onA).toEqual(expected);
  });

  it('a revocation made while an instance had lost the feed reaches its subscribers once the feed is back', async () => {
    const url = new URL(testEnv.env.DATABASE_URL!);
    const proxy = await createTcpProxy(Number(url.port || 5432));
    url.port = String(proxy.port);
    const c = await startKeyplane(loadConfig({ ...testEnv.env, DATABASE_URL: url.toString() }));
    const { apiKey } = await addKey(a, { id: adminId, teamId }, 'while lost');
    const adminOnC = await openWsSession(c.url, adminKey);
    const received = () => adminOnC.log.filter((msg) => msg.type === 'next' && 'id' in msg && msg.id === 'r').length;
    try {
      adminOnC.subscribe('r', REVOKED);
      await settle(400);
      await proxy.close(); // C's connections are cut, its LISTEN among them; reconnecting fails
      await settle(300);
      const res = await gql(a.url, RevokeApiKeys, { ids: [apiKey.id] }, { key: adminKey });
      expect(res.data?.revokeApiKeys.revokedCount).toBe(1);
      await settle(500);
      expect(received()).toBe(0); // C cannot have heard of it
      await proxy.listen();
      const [event] = await adminOnC.nexts<RevokedEvent>('r', 1, 15_000);
      expect(event!.data.apiKeyRevoked).toEqual({ apiKey: { id: apiKey.id }, reason: 'REVOKED_BY_ADMIN', revokedBy: { id: adminId } });
      await settle(500);
      expect(received()).toBe(1);
    } finally {
      adminOnC.close();
      await c.close();
      await proxy.close();
    }
  }, 30_000);
});

describe('KeyChanges', () => {
  const change = (id: string): KeyChanged => ({
    id,
    change: 'revoked',
    keyId: 'k',
    teamId: 't',
    keyKind: 'PERSONAL',
    ownerId: 'u',
    hash: 'h',
    status: 'REVOKED',
    expiresAt: null,
  });

  it('delivers a change once: its second copy (the feed’s echo) is dropped, a different change is not', () => {
    const bus = new KeyChanges();
    const seen: string[] = [];
    bus.on('changed', (e) => seen.push(e.id));
    bus.publish(change('one'));
    bus.publish(change('two'));
    bus.publish(change('one'));
    bus.publish(change('two'));
    expect(seen).toEqual(['one', 'two']);
  });

  it('streams only the team’s accepted changes to a subscriber', async () => {
    const bus = new KeyChanges();
    const stream = bus.stream('t', (e): e is KeyChanged => e.keyId === 'k');
    const first = stream.next();
    bus.publish({ ...change('other team'), teamId: 'u' });
    bus.publish({ ...change('other key'), keyId: 'j' });
    bus.publish(change('mine'));
    expect((await first).value?.id).toBe('mine');
    await stream.return();
  });
});
