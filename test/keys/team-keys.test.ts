// Team API key management (SPEC §1 "Team key management", §4): the admin dashboard's API.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { codes, gql } from '../helpers/client.js';
import { addKey, addSharedCollection, addTeam, addUser, principalOf } from '../helpers/fixtures.js';
import { useTestServer } from '../helpers/server.js';

const TeamKeys = graphql(`
  query TkList($filter: TeamApiKeyFilter, $orderBy: ApiKeyOrder, $first: Int, $after: String) {
    teamApiKeys(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id name hint status createdAt expiresAt lastUsedAt revokedAt revocationReason revokedBy { id } createdBy { id role } } }
    }
  }
`);
const RevokeSome = graphql(`
  mutation TkRevoke($ids: [ID!]!) { revokeApiKeys(ids: $ids) { revokedCount apiKeys { id status revocationReason revokedBy { id } } } }
`);
const RevokeAll = graphql(`mutation TkRevokeAll { revokeAllApiKeys { revokedCount apiKeys { id } } }`);
const Settings = graphql(`query TkSettings { apiKeySettings { allowMembersToGenerateKeys keyExpiryDays autoRevokeExposedKeys } }`);
const UpdateSettings = graphql(`
  mutation TkUpdate($input: ApiKeySettingsInput!) {
    updateApiKeySettings(input: $input) {
      settings { allowMembersToGenerateKeys keyExpiryDays autoRevokeExposedKeys }
      updatedKeyCount expiredKeyCount openExposureCount warning
    }
  }
`);
const Generate = graphql(`
  mutation TkGenerate($input: GenerateApiKeyInput!) { generateApiKey(input: $input) { secret apiKey { id createdAt expiresAt } } }
`);
const SetEnabled = graphql(
  `mutation TkSetEnabled($id: ID!, $enabled: Boolean!) { setApiKeyEnabled(id: $id, enabled: $enabled) { id status } }`,
);
const Me = graphql(`query TkMe { viewer { keyKind } }`);

const server = useTestServer({ RATE_LIMIT_PER_MINUTE: '100000' });

/** A fresh ENTERPRISE (or FREE) team with an admin, two members and their keys. */
async function team(plan: 'FREE' | 'ENTERPRISE' = 'ENTERPRISE') {
  const t = await addTeam(server, plan);
  const admin = await addUser(server, t.teamId, 'TEAM_ADMIN');
  const alice = await addUser(server, t.teamId);
  const bob = await addUser(server, t.teamId);
  return { ...t, superKey: t.apiKey, admin, alice, bob };
}

const ids = (r: Awaited<ReturnType<typeof list>>) => r.data!.teamApiKeys.edges.map((e) => e.node.id);
const list = (key: string, vars: Parameters<typeof gql<unknown, object>>[2] = {}) => gql(server.url, TeamKeys, vars as never, { key });

describe('who may use the dashboard', () => {
  it('admins on ENTERPRISE; members FORBIDDEN; admins on FREE PLAN_REQUIRED (role before plan)', async () => {
    const ent = await team();
    const free = await team('FREE');
    const cases: [string, string, string][] = [
      [ent.admin.key, 'OK', 'ENTERPRISE admin'],
      [ent.superKey, 'OK', 'ENTERPRISE super admin'],
      [ent.alice.key, 'FORBIDDEN', 'ENTERPRISE member'],
      [free.admin.key, 'PLAN_REQUIRED', 'FREE admin'],
      [free.alice.key, 'FORBIDDEN', 'FREE member'],
    ];
    for (const [key, expected, who] of cases) {
      const calls = [
        () => list(key),
        () => gql(server.url, RevokeSome, { ids: [] }, { key }),
        () => gql(server.url, UpdateSettings, { input: {} }, { key }),
        // revokeAll only where it must be refused: where allowed it would end the other keys.
        ...(expected === 'OK' ? [] : [() => gql(server.url, RevokeAll, {}, { key })]),
      ];
      for (const call of calls) {
        const res = await call();
        expect(codes(res)[0] ?? 'OK', who).toBe(expected);
        if (expected === 'PLAN_REQUIRED') expect(res.errors![0].message).toMatch(/ENTERPRISE/);
      }
    }
    // Every member reads the settings (they need to know the expiry rule).
    expect((await gql(server.url, Settings, {}, { key: free.alice.key })).data!.apiKeySettings).toEqual({
      allowMembersToGenerateKeys: true,
      keyExpiryDays: null,
      autoRevokeExposedKeys: false,
    });
  });
});

describe('teamApiKeys', () => {
  it('lists every personal key of the team with creator and role, and nothing of another team', async () => {
    const t = await team();
    const other = await team();
    const res = await list(t.admin.key);
    expect(res.data!.teamApiKeys.totalCount).toBe(4);
    expect(new Set(ids(res))).toEqual(
      new Set([
        t.admin.apiKey.id,
        t.alice.apiKey.id,
        t.bob.apiKey.id,
        (await server.services.prisma.apiKey.findFirstOrThrow({ where: { teamId: t.teamId, createdBy: { role: 'SUPER_ADMIN' } } })).id,
      ]),
    );
    expect(ids(res)).not.toContain(other.alice.apiKey.id);
    const alice = res.data!.teamApiKeys.edges.find((e) => e.node.id === t.alice.apiKey.id)!.node;
    expect(alice.createdBy).toEqual({ id: t.alice.user.id, role: 'MEMBER' });
  });

  it('filters by status (an expired key counts as REVOKED), by creator, and combinations', async () => {
    const t = await team();
    await gql(server.url, SetEnabled, { id: t.bob.apiKey.id, enabled: false }, { key: t.admin.key });
    await server.services.prisma.apiKey.update({ where: { id: t.alice.apiKey.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const by = async (filter: object) => new Set(ids(await list(t.admin.key, { filter })));
    expect(await by({ statuses: ['DISABLED'] })).toEqual(new Set([t.bob.apiKey.id]));
    expect(await by({ statuses: ['REVOKED'] })).toEqual(new Set([t.alice.apiKey.id]));
    expect((await by({ statuses: ['ENABLED'] })).has(t.alice.apiKey.id)).toBe(false);
    expect(await by({ statuses: ['DISABLED', 'REVOKED'] })).toEqual(new Set([t.bob.apiKey.id, t.alice.apiKey.id]));
    expect(await by({ createdBy: t.alice.user.id })).toEqual(new Set([t.alice.apiKey.id]));
    expect(await by({ createdBy: t.alice.user.id, statuses: ['ENABLED'] })).toEqual(new Set());
    const expired = (await list(t.admin.key, { filter: { statuses: ['REVOKED'] } })).data!.teamApiKeys.edges[0].node;
    expect(expired).toMatchObject({ status: 'REVOKED', revocationReason: 'EXPIRED' });
  });

  it('finds by key value: a whole key by its hash, or a hint; anything else is BAD_USER_INPUT', async () => {
    const t = await team();
    const other = await team();
    expect(ids(await list(t.admin.key, { filter: { keyValue: t.alice.key } }))).toEqual([t.alice.apiKey.id]);
    expect(ids(await list(t.admin.key, { filter: { keyValue: other.alice.key } }))).toEqual([]);
    const hint = t.bob.key.slice(-4);
    expect(ids(await list(t.admin.key, { filter: { keyValue: hint } }))).toContain(t.bob.apiKey.id);
    expect(ids(await list(t.admin.key, { filter: { keyValue: `kp_…${hint}` } }))).toContain(t.bob.apiKey.id);
    for (const bad of ['kp_', 'abc', 'kp_…abc!', `${t.alice.key.slice(0, -1)}0x`]) {
      const res = await list(t.admin.key, { filter: { keyValue: bad } });
      expect(codes(res), bad).toEqual(['BAD_USER_INPUT']);
    }
  });

  it('orders NEWEST, OLDEST and RECENTLY_USED (never-used keys last)', async () => {
    const t = await team();
    const all = ids(await list(t.admin.key, { orderBy: 'NEWEST' }));
    expect(ids(await list(t.admin.key, { orderBy: 'OLDEST' }))).toEqual([...all].reverse());
    await gql(server.url, Me, {}, { key: t.bob.key });
    await new Promise((r) => setTimeout(r, 20));
    await gql(server.url, Me, {}, { key: t.alice.key });
    await server.services.lastUsed.flush();
    const recent = await list(t.admin.key, { orderBy: 'RECENTLY_USED' });
    expect(ids(recent).slice(0, 2)).toEqual([t.alice.apiKey.id, t.bob.apiKey.id]);
    // teamApiKeys itself was called with the admin key: it is used too, so it comes first.
    expect(recent.data!.teamApiKeys.edges.at(-1)!.node.lastUsedAt).toBeNull();
  });

  it('pages over many keys sharing one timestamp without gaps or duplicates, in every order', async () => {
    const t = await team();
    for (let i = 0; i < 22; i++) await addKey(server, t.alice.user, `tie ${i}`);
    const same = new Date('2026-01-01T00:00:00.000Z');
    await server.services.prisma.apiKey.updateMany({ where: { teamId: t.teamId }, data: { createdAt: same, lastUsedAt: null } });
    for (const orderBy of ['NEWEST', 'OLDEST', 'RECENTLY_USED'] as const) {
      const seen: string[] = [];
      let after: string | null = null;
      let pages = 0;
      for (;;) {
        const res = await list(t.admin.key, { orderBy, first: 5, after });
        const conn = res.data!.teamApiKeys;
        expect(conn.totalCount).toBe(26);
        seen.push(...conn.edges.map((e) => e.node.id));
        pages += 1;
        if (!conn.pageInfo.hasNextPage) break;
        after = conn.pageInfo.endCursor;
      }
      expect(pages, orderBy).toBe(6);
      expect(seen).toHaveLength(26);
      expect(new Set(seen).size).toBe(26);
      await server.services.lastUsed.flush();
      await server.services.prisma.apiKey.updateMany({ where: { teamId: t.teamId }, data: { lastUsedAt: null } });
    }
    expect(codes(await list(t.admin.key, { first: -1 }))).toEqual(['BAD_USER_INPUT']);
    // SPEC §5: at most 500 per page; more is a cap reached, named.
    const over = await list(t.admin.key, { first: 501 });
    expect(codes(over)).toEqual(['BAD_USER_INPUT']);
    expect(over.errors![0].extensions).toMatchObject({ field: 'first', limit: 'maxPageSize' });
    expect(codes(await list(t.admin.key, { first: 500 }))).toEqual([]);
    // first: 0 asks for the count alone (the dashboard's Revoke All confirmation does).
    const countOnly = await list(t.admin.key, { first: 0 });
    expect(countOnly.data!.teamApiKeys.edges).toEqual([]);
    expect(countOnly.data!.teamApiKeys.totalCount).toBe(26);
    expect(codes(await list(t.admin.key, { after: 'garbage' }))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('totalCount and RECENTLY_USED pages', () => {
  it('counts follow every change at once (the count cache is dropped by key events)', async () => {
    const t = await team();
    const total = async (filter?: object) => (await list(t.admin.key, { filter })).data!.teamApiKeys.totalCount;
    expect(await total()).toBe(4);
    expect(await total({ statuses: ['DISABLED'] })).toBe(0);
    await gql(server.url, Generate, { input: { name: 'one more' } }, { key: t.alice.key });
    expect(await total()).toBe(5);
    await gql(server.url, SetEnabled, { id: t.bob.apiKey.id, enabled: false }, { key: t.admin.key });
    expect(await total({ statuses: ['DISABLED'] })).toBe(1);
    await gql(server.url, RevokeSome, { ids: [t.bob.apiKey.id] }, { key: t.admin.key });
    expect(await total({ statuses: ['DISABLED'] })).toBe(0);
    expect(await total({ statuses: ['REVOKED'] })).toBe(1);
  });

  it('RECENTLY_USED pages cross from used to never-used keys without gaps', async () => {
    const t = await team();
    for (let i = 0; i < 8; i++) await addKey(server, t.bob.user, `k${i}`);
    // No periodic lastUsedAt write in the middle of the paging (it would reorder the admin's key).
    await server.services.lastUsed.stop();
    const all = await server.services.prisma.apiKey.findMany({ where: { teamId: t.teamId }, orderBy: { id: 'asc' } });
    // Half used (two share one timestamp), half never.
    const at = new Date('2026-06-01T00:00:00.000Z');
    for (const [i, k] of all.entries()) {
      if (k.id === t.admin.apiKey.id) continue; // the admin's own key is used by the listing itself
      await server.services.prisma.apiKey.update({
        where: { id: k.id },
        data: { lastUsedAt: i % 2 ? new Date(at.getTime() - (i % 4 === 1 ? 0 : i) * 1000) : null },
      });
    }
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const res: Awaited<ReturnType<typeof list>> = await list(t.admin.key, { orderBy: 'RECENTLY_USED', first: 3, after });
      const conn = res.data!.teamApiKeys;
      seen.push(...conn.edges.map((e) => e.node.id));
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    expect(seen).toHaveLength(all.length);
    expect(new Set(seen).size).toBe(all.length);
    const rows = await server.services.prisma.apiKey.findMany({ where: { id: { in: seen } } });
    const used = seen.map((id) => rows.find((r) => r.id === id)!.lastUsedAt);
    const firstNever = used.indexOf(null);
    expect(used.slice(firstNever).every((u) => u === null)).toBe(true);
    const times = used.slice(0, firstNever).map((u) => u!.getTime());
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });
});

describe('revoking', () => {
  it('revokeApiKeys is all or nothing: an id of another team fails the whole call with NOT_FOUND naming it', async () => {
    const t = await team();
    const other = await team();
    const bad = await gql(server.url, RevokeSome, { ids: [t.alice.apiKey.id, other.alice.apiKey.id] }, { key: t.admin.key });
    expect(codes(bad)).toEqual(['NOT_FOUND']);
    expect(bad.errors![0].message).toContain(other.alice.apiKey.id);
    expect(bad.errors![0].message).not.toContain(t.alice.apiKey.id);
    expect((await gql(server.url, Me, {}, { key: t.alice.key })).status).toBe(200);

    const ok = await gql(server.url, RevokeSome, { ids: [t.alice.apiKey.id, t.bob.apiKey.id] }, { key: t.admin.key });
    expect(ok.data!.revokeApiKeys.revokedCount).toBe(2);
    for (const k of ok.data!.revokeApiKeys.apiKeys)
      expect(k).toMatchObject({ status: 'REVOKED', revocationReason: 'REVOKED_BY_ADMIN', revokedBy: { id: t.admin.user.id } });
    expect((await gql(server.url, Me, {}, { key: t.alice.key })).status).toBe(401);
    // Already revoked: left as it was, not listed.
    const again = await gql(server.url, RevokeSome, { ids: [t.alice.apiKey.id] }, { key: t.admin.key });
    expect(again.data!.revokeApiKeys).toEqual({ revokedCount: 0, apiKeys: [] });
  });

  it('bounded (SPEC §5): at most 10,000 ids; a payload lists at most 1,000 keys and counts them all', async () => {
    const t = await team();
    const tooMany = await gql(server.url, RevokeSome, { ids: Array.from({ length: 10_001 }, (_, i) => `id-${i}`) }, { key: t.admin.key });
    expect(codes(tooMany)).toEqual(['BAD_USER_INPUT']);
    expect(tooMany.errors![0].extensions).toMatchObject({ field: 'ids', limit: 'maxIds' });

    const rows = Array.from({ length: 1_200 }, (_, i) => ({
      teamId: t.teamId,
      name: `bulk ${i}`,
      hash: randomBytes(32).toString('hex'),
      hint: 'AAAA',
      createdById: t.alice.user.id,
    }));
    const bulk = (await server.services.prisma.apiKey.createManyAndReturn({ data: rows, select: { id: true } })).map((r) => r.id);
    const some = await gql(server.url, RevokeSome, { ids: bulk.slice(0, 1_100) }, { key: t.admin.key });
    expect(some.data!.revokeApiKeys.revokedCount).toBe(1_100);
    expect(some.data!.revokeApiKeys.apiKeys).toHaveLength(1_000);
    const all = await gql(server.url, RevokeAll, {}, { key: t.admin.key });
    expect(all.data!.revokeAllApiKeys.revokedCount).toBe(100 + 3); // the rest of the bulk, the super admin's, alice's, bob's (the caller's spared)
    expect(all.data!.revokeAllApiKeys.apiKeys).toHaveLength(103);
  });

  it('revokeAllApiKeys spares the calling key and collection access keys', async () => {
    const t = await team();
    await gql(server.url, SetEnabled, { id: t.bob.apiKey.id, enabled: false }, { key: t.admin.key });
    const shared = await addSharedCollection(server, t.alice.key, 'c');

    const res = await gql(server.url, RevokeAll, {}, { key: t.admin.key });
    expect(res.data!.revokeAllApiKeys.revokedCount).toBe(3); // super admin, alice, bob (disabled)
    expect(res.data!.revokeAllApiKeys.apiKeys.map((k) => k.id)).not.toContain(t.admin.apiKey.id);
    expect((await gql(server.url, Me, {}, { key: t.admin.key })).status).toBe(200);
    expect((await gql(server.url, Me, {}, { key: t.alice.key })).status).toBe(401);
    expect((await gql(server.url, Me, {}, { key: shared.accessKey })).status).toBe(200);
  });
});

describe('settings', () => {
  it('allowMembersToGenerateKeys off: members FORBIDDEN (saying why), admins still may; the change is recorded', async () => {
    const t = await team();
    const off = await gql(server.url, UpdateSettings, { input: { allowMembersToGenerateKeys: false } }, { key: t.admin.key });
    expect(off.data!.updateApiKeySettings.settings.allowMembersToGenerateKeys).toBe(false);
    const refused = await gql(server.url, Generate, { input: { name: 'x' } }, { key: t.alice.key });
    expect(codes(refused)).toEqual(['FORBIDDEN']);
    expect(refused.errors![0].message).toMatch(/admin has turned off/);
    expect((await gql(server.url, Generate, { input: { name: 'x' } }, { key: t.admin.key })).errors).toBeUndefined();
    const log = await server.services.prisma.settingsChange.findMany({ where: { teamId: t.teamId } });
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({
      actorId: t.admin.user.id,
      before: { allowMembersToGenerateKeys: true },
      after: { allowMembersToGenerateKeys: false },
    });
  });

  it('keyExpiryDays: max(createdAt + N, now) for live keys, new keys get createdAt + N, null restores each choice', async () => {
    const t = await team();
    const day = 86_400_000;
    const chosen = new Date(Date.now() + 100 * day).toISOString();
    const mine = (await gql(server.url, Generate, { input: { name: 'chosen', expiresAt: chosen } }, { key: t.alice.key })).data!
      .generateApiKey;
    // Bob's key is 40 days old: a 30-day team expiry ends it at the moment of the change.
    await server.services.prisma.apiKey.update({ where: { id: t.bob.apiKey.id }, data: { createdAt: new Date(Date.now() - 40 * day) } });
    expect((await gql(server.url, Me, {}, { key: t.bob.key })).status).toBe(200);

    const before = Date.now();
    const res = await gql(server.url, UpdateSettings, { input: { keyExpiryDays: 30 } }, { key: t.admin.key });
    const payload = res.data!.updateApiKeySettings;
    expect(payload.settings.keyExpiryDays).toBe(30);
    expect(payload.updatedKeyCount).toBe(5);
    expect(payload.expiredKeyCount).toBe(1);
    const bob = await gql(server.url, Me, {}, { key: t.bob.key });
    expect(bob.status).toBe(401);
    expect(bob.errors![0].extensions?.reason).toBe('expired');
    const aliceKey = await server.services.prisma.apiKey.findUniqueOrThrow({ where: { id: mine.apiKey.id } });
    expect(aliceKey.expiresAt!.getTime()).toBe(aliceKey.createdAt.getTime() + 30 * day);
    expect(aliceKey.chosenExpiresAt!.toISOString()).toBe(chosen);

    const later = (await gql(server.url, Generate, { input: { name: 'asks for 90', expiresInDays: 90 } }, { key: t.alice.key })).data!
      .generateApiKey;
    expect(new Date(later.apiKey.expiresAt!).getTime()).toBe(new Date(later.apiKey.createdAt).getTime() + 30 * day);

    const restored = await gql(server.url, UpdateSettings, { input: { keyExpiryDays: null } }, { key: t.admin.key });
    expect(restored.data!.updateApiKeySettings.settings.keyExpiryDays).toBeNull();
    const back = await server.services.prisma.apiKey.findUniqueOrThrow({ where: { id: mine.apiKey.id } });
    expect(back.expiresAt!.toISOString()).toBe(chosen);
    const bobRow = await server.services.prisma.apiKey.findUniqueOrThrow({ where: { id: t.bob.apiKey.id } });
    expect(bobRow.expiresAt!.getTime()).toBeGreaterThanOrEqual(before - 1); // stays expired at the change
    expect((await gql(server.url, Me, {}, { key: t.bob.key })).status).toBe(401);

    const bad = await gql(server.url, UpdateSettings, { input: { keyExpiryDays: 0 } }, { key: t.admin.key });
    expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
  });
});

describe('the expiry job', () => {
  it('persists expiries as REVOKED/EXPIRED with revokedAt = expiresAt, once, even when two run at once', async () => {
    const t = await team();
    const past = new Date(Date.now() - 5_000);
    await server.services.prisma.apiKey.updateMany({ where: { teamId: t.teamId }, data: { expiresAt: past } });
    const n = await server.services.prisma.apiKey.count({ where: { teamId: t.teamId } });
    const counts = await Promise.all([server.services.expiryJob.run(), server.services.expiryJob.run()]);
    const mine = await server.services.prisma.apiKey.findMany({ where: { teamId: t.teamId } });
    expect(mine.every((k) => k.status === 'REVOKED' && k.revocationReason === 'EXPIRED' && k.revokedAt?.getTime() === past.getTime())).toBe(
      true,
    );
    expect(counts[0] + counts[1]).toBeGreaterThanOrEqual(n); // other files' keys may expire too
    expect(await server.services.expiryJob.run()).toBe(0);
  });

  it('with the clock controlled: only keys expired by then', async () => {
    const t = await team();
    const soon = new Date(Date.now() + 60_000);
    await server.services.prisma.apiKey.update({ where: { id: t.alice.apiKey.id }, data: { expiresAt: soon } });
    expect(await server.services.expiryJob.run(new Date(Date.now()))).toBe(0);
    expect(await server.services.expiryJob.run(new Date(soon.getTime() + 1))).toBe(1);
    const row = await server.services.prisma.apiKey.findUniqueOrThrow({ where: { id: t.alice.apiKey.id } });
    expect(row).toMatchObject({ status: 'REVOKED', revocationReason: 'EXPIRED', revokedAt: soon });
  });
});

describe('totalCount from the maintained counters', () => {
  it('matches a real count for every status filter and creator after every kind of change', async () => {
    const t = await team();
    const { prisma, lifecycle, revocation, settings } = server.services;
    const made = [];
    for (const who of [t.alice, t.bob, t.alice, t.admin]) made.push((await addKey(server, who.user, 'counted')).apiKey);
    const adminPrincipal = await principalOf(server, t.admin.key);
    await lifecycle.setEnabled(adminPrincipal, made[0]!.id, false);
    await revocation.revoke({ id: made[1]!.id }, { reason: 'REVOKED_BY_ADMIN', actorId: t.admin.user.id });
    // one key expired but not persisted yet, one expired and persisted by the job
    await prisma.apiKey.update({ where: { id: made[2]!.id }, data: { expiresAt: new Date(Date.now() - 1_000) } });
    await prisma.apiKey.update({ where: { id: made[3]!.id }, data: { expiresAt: new Date(Date.now() - 2_000) } });
    await revocation.persistExpired(new Date(Date.now() - 1_500), 10);
    await settings.update(adminPrincipal, { keyExpiryDays: 30 });

    const now = new Date();
    const all = await prisma.apiKey.findMany({ where: { teamId: t.teamId, kind: 'PERSONAL' } });
    const effective = (k: (typeof all)[number]) => (k.status !== 'REVOKED' && k.expiresAt && k.expiresAt <= now ? 'REVOKED' : k.status);
    const filters: { statuses?: ('ENABLED' | 'DISABLED' | 'REVOKED')[]; createdBy?: string }[] = [];
    for (const statuses of [undefined, ['ENABLED'], ['DISABLED'], ['REVOKED'], ['DISABLED', 'REVOKED']] as const) {
      for (const createdBy of [undefined, t.alice.user.id, t.bob.user.id, t.admin.user.id]) {
        filters.push({ ...(statuses ? { statuses: [...statuses] } : {}), ...(createdBy ? { createdBy } : {}) });
      }
    }
    for (const filter of filters) {
      const expected = all.filter(
        (k) => (!filter.statuses || filter.statuses.includes(effective(k))) && (!filter.createdBy || k.createdById === filter.createdBy),
      ).length;
      const res = await list(t.admin.key, { filter, first: 0 });
      expect(res.data!.teamApiKeys.totalCount, JSON.stringify(filter)).toBe(expected);
    }
  });
});
