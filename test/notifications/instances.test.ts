// Two instances on one PostgreSQL and one Redis: a revocation on A reaches subscribers on B, and
// B stops accepting the key within a second (its verification cache drops it), PostgreSQL pass.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type KeyplaneServer, startKeyplane } from '../../src/server.js';
import { graphql } from '../generated/index.js';
import { gql } from '../helpers/client.js';
import { addUser, viewerTeamId } from '../helpers/fixtures.js';
import { makeTestEnv, onRedis } from '../helpers/server.js';
import { openWsSession, settle } from '../helpers/ws-session.js';

const RevokeApiKeys = graphql(`
  mutation InstancesRevoke($ids: [ID!]!) { revokeApiKeys(ids: $ids) { revokedCount } }
`);
const Regenerate = graphql(`
  mutation InstancesRegenerate($id: ID!) { regenerateApiKey(id: $id) { secret } }
`);
const Viewer = graphql(`
  query InstancesViewer { viewer { keyKind } }
`);

describe.runIf(onRedis)('two instances on one Redis', () => {
  let testEnv: Awaited<ReturnType<typeof makeTestEnv>>;
  let a: KeyplaneServer;
  let b: KeyplaneServer;
  let adminKey: string;
  let teamId: string;

  beforeAll(async () => {
    testEnv = await makeTestEnv();
    a = await startKeyplane(loadConfig(testEnv.env));
    b = await startKeyplane(loadConfig(testEnv.env));
    adminKey = a.bootstrapKey!;
    teamId = await viewerTeamId(a, adminKey);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await testEnv?.cleanup();
  });

  async function member() {
    const { user, apiKey, key } = await addUser(a, teamId);
    return { user, apiKey, secret: key };
  }

  /** Calls B until the key fails; returns how long after `since` it first failed. */
  async function rejectedOnBAfter(key: string, since: number): Promise<number> {
    for (;;) {
      const res = await gql(b.url, Viewer, {}, { key });
      if (res.status === 401) return Date.now() - since;
      if (Date.now() - since > 5_000) return Infinity;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('a revocation on A reaches B: its subscribers get the event, the key fails there within 1 s, its socket closes', async () => {
    const m = await member();
    expect((await gql(b.url, Viewer, {}, { key: m.secret })).status).toBe(200); // now cached on B
    const adminOnB = await openWsSession(b.url, adminKey);
    const memberOnB = await openWsSession(b.url, m.secret);
    try {
      adminOnB.subscribe('r', 'subscription { apiKeyRevoked { apiKey { id } reason } }');
      memberOnB.subscribe('r', 'subscription { apiKeyRevoked { apiKey { id } reason } }');
      await settle(400);
      const started = Date.now();
      const res = await gql(a.url, RevokeApiKeys, { ids: [m.apiKey.id] }, { key: adminKey });
      expect(res.data?.revokeApiKeys.revokedCount).toBe(1);
      const [event] = await adminOnB.nexts<{ data: { apiKeyRevoked: { apiKey: { id: string } } } }>('r', 1);
      expect(event!.data.apiKeyRevoked.apiKey.id).toBe(m.apiKey.id);
      expect(await rejectedOnBAfter(m.secret, started)).toBeLessThan(1_000);
      const closed = await memberOnB.closed;
      expect(closed.code).toBe(4401);
      const ownEvent = memberOnB.log.findIndex((msg) => msg.type === 'next');
      expect(ownEvent).toBeGreaterThanOrEqual(0);
      expect(ownEvent).toBeLessThan(memberOnB.log.findIndex((msg) => msg.type === 'close'));
    } finally {
      adminOnB.close();
      memberOnB.close();
    }
  });

  it('a regeneration on A makes the old secret fail on B within 1 s', async () => {
    const m = await member();
    expect((await gql(b.url, Viewer, {}, { key: m.secret })).status).toBe(200);
    const started = Date.now();
    const res = await gql(a.url, Regenerate, { id: m.apiKey.id }, { key: m.secret });
    expect(res.data?.regenerateApiKey.secret).toMatch(/^kp_/);
    expect(await rejectedOnBAfter(m.secret, started)).toBeLessThan(1_000);
    expect((await gql(b.url, Viewer, {}, { key: res.data!.regenerateApiKey.secret })).status).toBe(200);
  });
});
