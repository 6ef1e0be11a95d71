// The personal key lifecycle over HTTP (SPEC §1 "Personal API keys", §4 rules and expiry).
import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { codes, gql } from '../helpers/client.js';
import { addTeam, addUser } from '../helpers/fixtures.js';
import { useTestServer } from '../helpers/server.js';

const Generate = graphql(`
  mutation LcGenerate($input: GenerateApiKeyInput!) {
    generateApiKey(input: $input) { secret apiKey { id name status expiresAt createdAt } }
  }
`);
const Regenerate = graphql(`
  mutation LcRegenerate($id: ID!) { regenerateApiKey(id: $id) { secret apiKey { id name hint status } } }
`);
const Rename = graphql(`
  mutation LcRename($id: ID!, $name: String!) { renameApiKey(id: $id, name: $name) { id name } }
`);
const Delete = graphql(`
  mutation LcDelete($id: ID!) {
    deleteApiKey(id: $id) { id status revokedAt revocationReason revokedBy { id } }
  }
`);
const SetEnabled = graphql(`
  mutation LcSetEnabled($id: ID!, $enabled: Boolean!) { setApiKeyEnabled(id: $id, enabled: $enabled) { id status } }
`);
const SetExpiry = graphql(`
  mutation LcSetExpiry($id: ID!, $expiresAt: DateTime) { setApiKeyExpiry(id: $id, expiresAt: $expiresAt) { id expiresAt status } }
`);
const Me = graphql(`
  query LcMe { viewer { user { id } } }
`);
const MyKeys = graphql(`
  query LcMyKeys { apiKeys { id status revokedAt revocationReason expiresAt } }
`);

const server = useTestServer();

const me = (key: string) => gql(server.url, Me, {}, { key });
const inDays = (d: number) => new Date(Date.now() + d * 86_400_000);

async function newKey(ownerKey: string, input: { name: string; expiresInDays?: number; expiresAt?: string }) {
  const res = await gql(server.url, Generate, { input }, { key: ownerKey });
  expect(res.errors).toBeUndefined();
  return res.data!.generateApiKey;
}

describe('expiry at creation', () => {
  it('takes expiresInDays or expiresAt, in the future, never both', async () => {
    const owner = await addUser(server, server.teamId);
    const days = await newKey(owner.key, { name: 'ten days', expiresInDays: 10 });
    const expected = inDays(10).getTime();
    expect(Math.abs(new Date(days.apiKey.expiresAt!).getTime() - expected)).toBeLessThan(5_000);

    const at = inDays(3).toISOString();
    expect((await newKey(owner.key, { name: 'at', expiresAt: at })).apiKey.expiresAt).toBe(at);

    const both = await gql(server.url, Generate, { input: { name: 'x', expiresInDays: 1, expiresAt: at } }, { key: owner.key });
    expect(codes(both)).toEqual(['BAD_USER_INPUT']);
    expect(both.errors![0].message).toMatch(/at most one/);

    const past = await gql(
      server.url,
      Generate,
      { input: { name: 'x', expiresAt: new Date(Date.now() - 1000).toISOString() } },
      { key: owner.key },
    );
    expect(codes(past)).toEqual(['BAD_USER_INPUT']);
    expect(past.errors![0].message).toMatch(/^input\.expiresAt: must be in the future/);

    for (const n of [0, -1, 100000]) {
      const bad = await gql(server.url, Generate, { input: { name: 'x', expiresInDays: n } }, { key: owner.key });
      expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
    }
  });
});

describe('regenerateApiKey', () => {
  it('keeps id and name, issues a new secret, and the old one fails on the very next request', async () => {
    const owner = await addUser(server, server.teamId);
    const key = await newKey(owner.key, { name: 'rotating' });
    expect((await me(key.secret)).status).toBe(200); // cached as verified

    const res = await gql(server.url, Regenerate, { id: key.apiKey.id }, { key: owner.key });
    expect(res.errors).toBeUndefined();
    const regenerated = res.data!.regenerateApiKey;
    expect(regenerated.apiKey).toMatchObject({ id: key.apiKey.id, name: 'rotating', status: 'ENABLED' });
    expect(regenerated.secret).not.toBe(key.secret);
    expect(regenerated.apiKey.hint).toBe(`kp_…${regenerated.secret.slice(-4)}`);

    const old = await me(key.secret);
    expect(old.status).toBe(401);
    expect(old.errors![0].extensions?.reason).toBe('unknown');
    expect((await me(regenerated.secret)).status).toBe(200);
  });

  it('refuses a revoked key', async () => {
    const owner = await addUser(server, server.teamId);
    const key = await newKey(owner.key, { name: 'gone' });
    await gql(server.url, Delete, { id: key.apiKey.id }, { key: owner.key });
    const res = await gql(server.url, Regenerate, { id: key.apiKey.id }, { key: owner.key });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors![0].message).toMatch(/revoked key cannot be regenerated/);
  });
});

describe('renameApiKey', () => {
  it('renames (trimmed) and validates the name', async () => {
    const owner = await addUser(server, server.teamId);
    const key = await newKey(owner.key, { name: 'before' });
    const ok = await gql(server.url, Rename, { id: key.apiKey.id, name: '  after  ' }, { key: owner.key });
    expect(ok.data!.renameApiKey).toEqual({ id: key.apiKey.id, name: 'after' });
    for (const name of ['', '   ', 'z'.repeat(101)]) {
      const bad = await gql(server.url, Rename, { id: key.apiKey.id, name }, { key: owner.key });
      expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
      expect(bad.errors![0].message).toMatch(/^name: /);
    }
  });
});

describe('deleteApiKey', () => {
  it('revokes with REVOKED_BY_OWNER, and the key fails at once saying when', async () => {
    const owner = await addUser(server, server.teamId);
    const key = await newKey(owner.key, { name: 'to delete' });
    expect((await me(key.secret)).status).toBe(200);

    const res = await gql(server.url, Delete, { id: key.apiKey.id }, { key: owner.key });
    const deleted = res.data!.deleteApiKey;
    expect(deleted).toMatchObject({ status: 'REVOKED', revocationReason: 'REVOKED_BY_OWNER', revokedBy: { id: owner.user.id } });

    const after = await me(key.secret);
    expect(after.status).toBe(401);
    expect(after.errors![0].extensions?.reason).toBe('revoked');
    expect(after.errors![0].message).toContain(deleted.revokedAt!);

    // Still listed for its owner, as revoked.
    const list = await gql(server.url, MyKeys, {}, { key: owner.key });
    expect(list.data!.apiKeys.find((k) => k.id === key.apiKey.id)).toMatchObject({
      status: 'REVOKED',
      revocationReason: 'REVOKED_BY_OWNER',
    });
  });

  it('a key may delete itself; that request succeeds and the next fails', async () => {
    const owner = await addUser(server, server.teamId);
    const res = await gql(server.url, Delete, { id: owner.apiKey.id }, { key: owner.key });
    expect(res.data!.deleteApiKey.status).toBe('REVOKED');
    expect((await me(owner.key)).status).toBe(401);
  });
});

describe('setApiKeyEnabled', () => {
  it('disables (401 saying disabled) and re-enables; a revoked key stays revoked', async () => {
    const owner = await addUser(server, server.teamId);
    const key = await newKey(owner.key, { name: 'toggle' });
    expect((await me(key.secret)).status).toBe(200);

    const off = await gql(server.url, SetEnabled, { id: key.apiKey.id, enabled: false }, { key: owner.key });
    expect(off.data!.setApiKeyEnabled.status).toBe('DISABLED');
    const refused = await me(key.secret);
    expect(refused.status).toBe(401);
    expect(refused.errors![0]).toMatchObject({ message: 'This API key is disabled', extensions: { reason: 'disabled' } });

    const on = await gql(server.url, SetEnabled, { id: key.apiKey.id, enabled: true }, { key: owner.key });
    expect(on.data!.setApiKeyEnabled.status).toBe('ENABLED');
    expect((await me(key.secret)).status).toBe(200);

    await gql(server.url, Delete, { id: key.apiKey.id }, { key: owner.key });
    const revived = await gql(server.url, SetEnabled, { id: key.apiKey.id, enabled: true }, { key: owner.key });
    expect(codes(revived)).toEqual(['BAD_USER_INPUT']);
    expect((await me(key.secret)).status).toBe(401);
  });
});

describe('expiry', () => {
  it('a key past expiresAt reads REVOKED/EXPIRED at once and fails saying when', async () => {
    const owner = await addUser(server, server.teamId);
    const key = await newKey(owner.key, { name: 'short-lived', expiresInDays: 1 });
    expect((await me(key.secret)).status).toBe(200);
    // Move the expiry into the past in the database, as time passing would.
    const past = new Date(Date.now() - 60_000);
    await server.services.prisma.apiKey.update({ where: { id: key.apiKey.id }, data: { expiresAt: past } });
    server.services.auth.forgetAll(); // the cache may hold it for a few seconds; time passing has no event

    const refused = await me(key.secret);
    expect(refused.status).toBe(401);
    expect(refused.errors![0].extensions?.reason).toBe('expired');
    expect(refused.errors![0].message).toContain(past.toISOString());

    const list = await gql(server.url, MyKeys, {}, { key: owner.key });
    expect(list.data!.apiKeys.find((k) => k.id === key.apiKey.id)).toEqual({
      id: key.apiKey.id,
      status: 'REVOKED',
      revocationReason: 'EXPIRED',
      revokedAt: past.toISOString(),
      expiresAt: past.toISOString(),
    });
  });

  it('an expiry reached while cached fails with no event at all', async () => {
    const owner = await addUser(server, server.teamId);
    const soon = new Date(Date.now() + 1_500).toISOString();
    const key = await newKey(owner.key, { name: 'ticking', expiresAt: soon });
    expect((await me(key.secret)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1_600));
    const refused = await me(key.secret);
    expect(refused.status).toBe(401);
    expect(refused.errors![0].extensions?.reason).toBe('expired');
  });

  it('setApiKeyExpiry: owner sets, clears with null, refuses the past', async () => {
    const owner = await addUser(server, server.teamId);
    const key = await newKey(owner.key, { name: 'exp' });
    const later = inDays(30).toISOString();
    const set = await gql(server.url, SetExpiry, { id: key.apiKey.id, expiresAt: later }, { key: owner.key });
    expect(set.data!.setApiKeyExpiry).toMatchObject({ expiresAt: later, status: 'ENABLED' });
    const cleared = await gql(server.url, SetExpiry, { id: key.apiKey.id, expiresAt: null }, { key: owner.key });
    expect(cleared.data!.setApiKeyExpiry.expiresAt).toBeNull();
    const past = await gql(
      server.url,
      SetExpiry,
      { id: key.apiKey.id, expiresAt: new Date(Date.now() - 1000).toISOString() },
      { key: owner.key },
    );
    expect(codes(past)).toEqual(['BAD_USER_INPUT']);
  });
});

describe('who may touch whose key', () => {
  it('members: another member or another team key is NOT_FOUND, exactly like a missing id', async () => {
    const alice = await addUser(server, server.teamId);
    const bob = await addUser(server, server.teamId);
    const other = await addTeam(server);
    const otherKeyId = (await server.services.prisma.apiKey.findFirstOrThrow({ where: { teamId: other.teamId } })).id;
    const missing = '01900000-0000-7000-8000-000000000000';
    for (const id of [bob.apiKey.id, otherKeyId, missing]) {
      for (const [doc, vars] of [
        [Rename, { id, name: 'n' }],
        [Regenerate, { id }],
        [Delete, { id }],
        [SetEnabled, { id, enabled: false }],
        [SetExpiry, { id, expiresAt: null }],
      ] as const) {
        const res = await gql(server.url, doc as typeof Rename, vars as never, { key: alice.key });
        expect(codes(res)).toEqual(['NOT_FOUND']);
        expect(res.errors![0].message).toBe(`API key ${id} was not found`);
      }
    }
    // Nothing happened to Bob's key.
    expect((await me(bob.key)).status).toBe(200);
  });

  it("admins: may disable/enable a member's key (ENTERPRISE) but not rename, regenerate, delete or re-expire it", async () => {
    const member = await addUser(server, server.teamId);
    const admin = await addUser(server, server.teamId, 'TEAM_ADMIN');
    const id = member.apiKey.id;
    for (const [doc, vars] of [
      [Rename, { id, name: 'hijack' }],
      [Regenerate, { id }],
      [Delete, { id }],
      [SetExpiry, { id, expiresAt: null }],
    ] as const) {
      const res = await gql(server.url, doc as typeof Rename, vars as never, { key: admin.key });
      expect(codes(res)).toEqual(['FORBIDDEN']);
      expect(res.errors![0].message).toMatch(/only the key's owner/i);
    }
    const off = await gql(server.url, SetEnabled, { id, enabled: false }, { key: admin.key });
    expect(off.data!.setApiKeyEnabled.status).toBe('DISABLED');
    expect((await me(member.key)).status).toBe(401);
    const on = await gql(server.url, SetEnabled, { id, enabled: true }, { key: admin.key });
    expect(on.data!.setApiKeyEnabled.status).toBe('ENABLED');
    expect((await me(member.key)).status).toBe(200);
  });

  it("an admin on the FREE plan gets PLAN_REQUIRED for another user's key, and manages their own", async () => {
    const free = await addTeam(server, 'FREE');
    const member = await addUser(server, free.teamId);
    const res = await gql(server.url, SetEnabled, { id: member.apiKey.id, enabled: false }, { key: free.apiKey });
    expect(codes(res)).toEqual(['PLAN_REQUIRED']);
    expect(res.errors![0].message).toMatch(/ENTERPRISE/);
    expect((await me(member.key)).status).toBe(200);

    const own = await newKey(free.apiKey, { name: 'own' });
    const mine = await gql(server.url, SetEnabled, { id: own.apiKey.id, enabled: false }, { key: free.apiKey });
    expect(mine.data!.setApiKeyEnabled.status).toBe('DISABLED');
  });
});
