// Rotation with overlap (SPEC §5, issue 17): regenerateApiKey(overlapMinutes) keeps the previous
// secret working until previousSecretExpiresAt, on every instance, sharing the key's status, rate
// limit and lastUsedAt; revoke, disable and delete end both secrets at once; re-enabling revives
// only the new one; a second regeneration ends the older secret; sockets on the old secret close
// with 4401 "rotated" when the overlap ends. Two instances on one database (the change feed is
// PostgreSQL's NOTIFY: no Redis needed), in every pass. The overlap's end is moved by a trigger
// in this test's database (never a wait of minutes): keys named "short overlap…" get 5 s.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type KeyplaneServer, startKeyplane } from '../../src/server.js';
import { openSse } from '../helpers/client.js';
import { addTeam, viewerTeamId } from '../helpers/fixtures.js';
import { makeTestEnv } from '../helpers/server.js';
import { openWsSession, settle } from '../helpers/ws-session.js';

const SHORT_OVERLAP_MS = 5_000;

interface Answer {
  status: number;
  headers: Headers;
  data?: Record<string, any> | null;
  errors?: { message: string; extensions?: { code?: string; field?: string } }[];
}

/** `from`: the client address, told by X-Forwarded-For (the instances trust 127.0.0.1 as a proxy). */
async function post(url: string, key: string, query: string, variables?: Record<string, unknown>, from?: string): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key, ...(from ? { 'x-forwarded-for': from } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  try {
    return { status: res.status, headers: res.headers, ...(JSON.parse(text) as object) };
  } catch {
    throw new Error(`${res.status} ${text.slice(0, 300)}`);
  }
}
const viewer = (url: string, key: string, from?: string) => post(url, key, '{ viewer { keyKind } }', undefined, from);
const statusOf = async (url: string, key: string) => (await viewer(url, key)).status;

const REGENERATE = `mutation ($id: ID!, $overlap: Int) {
  regenerateApiKey(id: $id, overlapMinutes: $overlap) { secret apiKey { id status previousSecretExpiresAt } }
}`;
const KEY = 'query ($id: ID!) { apiKey(id: $id) { status previousSecretExpiresAt lastUsedAt lastUsedFrom } }';

/** Asks `url` until `key` gets `status`; how long it took after `since` (Infinity past 5 s). */
async function statusReached(url: string, key: string, status: number, since = Date.now()): Promise<number> {
  for (;;) {
    if ((await statusOf(url, key)) === status) return Date.now() - since;
    if (Date.now() - since > 5_000) return Number.POSITIVE_INFINITY;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('regenerateApiKey with an overlap, on two instances', () => {
  let testEnv: Awaited<ReturnType<typeof makeTestEnv>>;
  let a: KeyplaneServer;
  let b: KeyplaneServer;
  let adminKey: string;
  let teamId: string;

  beforeAll(async () => {
    // Many refusals (401s) from this one address are the point here: not the brute-force limit.
    testEnv = await makeTestEnv({ TRUST_PROXY: '127.0.0.1', AUTH_FAILURES_PER_MINUTE: '10000' });
    // This test's database only: a regeneration of a key named "short overlap…" keeps its old
    // secret 5 s instead of the minutes asked (the API's unit), as if that much time had passed.
    const db = new pg.Client({ connectionString: testEnv.database.url });
    await db.connect();
    await db.query(`
      CREATE FUNCTION test_short_overlap() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW."hash" IS DISTINCT FROM OLD."hash" AND NEW."previousSecretExpiresAt" IS NOT NULL
           AND NEW."name" LIKE 'short overlap%' THEN
          NEW."previousSecretExpiresAt" := clock_timestamp() + interval '${SHORT_OVERLAP_MS} milliseconds';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER "test_short_overlap" BEFORE UPDATE ON "ApiKey" FOR EACH ROW EXECUTE FUNCTION test_short_overlap();`);
    await db.end();
    a = await startKeyplane(loadConfig(testEnv.env));
    b = await startKeyplane(loadConfig(testEnv.env));
    adminKey = a.bootstrapKey!;
    teamId = await viewerTeamId(a, adminKey);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await testEnv?.cleanup();
  });

  let n = 0;
  /** A member with one key (used on no instance yet). */
  async function member(name = 'rotated key') {
    n += 1;
    const user = await a.services.prisma.user.create({ data: { teamId, email: `rot${n}-${Date.now()}@example.com`, name: `Member ${n}` } });
    const issued = await a.services.keys.issuePersonalKey({ userId: user.id, teamId }, { name: `${name} ${n}` });
    return { id: issued.apiKey.id, secret: issued.secret };
  }

  /** Regenerates on A as the key's owner; the new secret. */
  async function regenerate(key: { id: string; secret: string }, overlap: number): Promise<{ secret: string; until: string | null }> {
    const res = await post(a.url, key.secret, REGENERATE, { id: key.id, overlap });
    expect(res.errors).toBeUndefined();
    const out = res.data!.regenerateApiKey;
    return { secret: out.secret, until: out.apiKey.previousSecretExpiresAt };
  }

  it('both secrets work on both instances during the overlap; the old one fails on the first request after it ends, and its sockets close 4401 "rotated"', async () => {
    const key = await member('short overlap');
    // Verified (cached) on both instances, and sockets open on both, before the regeneration.
    expect(await statusOf(a.url, key.secret)).toBe(200);
    expect(await statusOf(b.url, key.secret)).toBe(200);
    const socketA = await openWsSession(a.url, key.secret);
    const socketB = await openWsSession(b.url, key.secret);
    try {
      const started = Date.now();
      const next = await regenerate(key, 1);
      const end = new Date(next.until!).getTime();
      expect(end).toBeGreaterThan(started);
      expect(end).toBeLessThanOrEqual(Date.now() + SHORT_OVERLAP_MS);
      for (const server of [a, b]) {
        expect(await statusOf(server.url, key.secret)).toBe(200);
        expect(await statusOf(server.url, next.secret)).toBe(200);
      }
      // A socket opened on the old secret during the overlap, on B.
      const lateB = await openWsSession(b.url, key.secret);
      await settle(300);
      for (const s of [socketA, socketB, lateB]) expect(s.log.some((m) => m.type === 'close')).toBe(false);
      const shown = await post(a.url, next.secret, KEY, { id: key.id });
      expect(shown.data!.apiKey.previousSecretExpiresAt).toBe(next.until);

      await new Promise((r) => setTimeout(r, Math.max(0, end - Date.now() + 20)));
      // The first request after the end fails on both instances, from their cached verifications.
      expect(await statusOf(a.url, key.secret)).toBe(401);
      expect(await statusOf(b.url, key.secret)).toBe(401);
      const refused = await viewer(b.url, key.secret);
      expect(refused.errors![0]!.message).toMatch(/regenerated/);
      expect(await statusOf(a.url, next.secret)).toBe(200);
      expect(await statusOf(b.url, next.secret)).toBe(200);
      for (const s of [socketA, socketB, lateB]) {
        const closed = await Promise.race([s.closed, new Promise<null>((r) => setTimeout(() => r(null), 5_000))]);
        expect(closed?.code).toBe(4401);
        expect(closed?.reason).toMatch(/rotated/);
      }
      const after = await post(b.url, next.secret, KEY, { id: key.id });
      expect(after.data!.apiKey.previousSecretExpiresAt).toBeNull();
      // A socket on the new secret stays.
      const fresh = await openWsSession(a.url, next.secret);
      await settle(200);
      expect(fresh.log.some((m) => m.type === 'close')).toBe(false);
      fresh.close();
    } finally {
      socketA.close();
      socketB.close();
    }
  });

  it('an SSE stream on the old secret lasts through the overlap and ends with it; one on the new secret stays', async () => {
    const key = await member('short overlap');
    const QUERY = 'subscription { apiKeyRevoked { reason } }';
    const before = await openSse(b.url, key.secret, QUERY);
    try {
      expect(before.response.status).toBe(200);
      const next = await regenerate(key, 1);
      const end = new Date(next.until!).getTime();
      const during = await openSse(b.url, key.secret, QUERY);
      const fresh = await openSse(a.url, next.secret, QUERY);
      try {
        expect((await before.readUntil(null, 500)).ended).toBe(false);
        const ended = await before.readUntil(null, end - Date.now() + 3_000);
        expect(ended.ended).toBe(true);
        expect(Date.now()).toBeGreaterThanOrEqual(end - 50);
        expect((await during.readUntil(null, 2_000)).ended).toBe(true);
        expect((await fresh.readUntil(null, 300)).ended).toBe(false);
      } finally {
        during.close();
        fresh.close();
      }
    } finally {
      before.close();
    }
  });

  it.each([
    [
      'revokeApiKeys (admin)',
      (k: { id: string }) =>
        post(a.url, adminKey, 'mutation ($ids: [ID!]!) { revokeApiKeys(ids: $ids) { revokedCount } }', { ids: [k.id] }),
    ],
    [
      'setApiKeyEnabled false (owner)',
      (k: { id: string; secret: string }) =>
        post(a.url, k.secret, 'mutation ($id: ID!) { setApiKeyEnabled(id: $id, enabled: false) { status } }', { id: k.id }),
    ],
    [
      'deleteApiKey (owner)',
      (k: { id: string; secret: string }) =>
        post(a.url, k.secret, 'mutation ($id: ID!) { deleteApiKey(id: $id) { status } }', { id: k.id }),
    ],
  ])('%s during the overlap ends both secrets at once, here and on the other instance', async (_name, end) => {
    const key = await member();
    const next = await regenerate(key, 60);
    expect(new Date(next.until!).getTime()).toBeGreaterThan(Date.now() + 59 * 60_000);
    // Both secrets verified (cached) on both instances, and a socket on each secret.
    for (const server of [a, b]) for (const s of [key.secret, next.secret]) expect(await statusOf(server.url, s)).toBe(200);
    const oldSocket = await openWsSession(b.url, key.secret);
    const newSocket = await openWsSession(b.url, next.secret);
    try {
      const res = await end({ id: key.id, secret: next.secret });
      expect(res.errors).toBeUndefined();
      const answered = Date.now();
      // Same instance: at once.
      expect(await statusOf(a.url, key.secret)).toBe(401);
      expect(await statusOf(a.url, next.secret)).toBe(401);
      // The other instance: within 1 s (SPEC §5).
      const onB = await Promise.all([statusReached(b.url, key.secret, 401, answered), statusReached(b.url, next.secret, 401, answered)]);
      expect(Math.max(...onB)).toBeLessThan(1_000);
      for (const s of [oldSocket, newSocket]) expect((await s.closed).code).toBe(4401);
    } finally {
      oldSocket.close();
      newSocket.close();
    }
  });

  it('re-enabling revives only the new secret', async () => {
    const key = await member();
    const next = await regenerate(key, 60);
    for (const server of [a, b]) expect(await statusOf(server.url, key.secret)).toBe(200);
    const off = await post(
      a.url,
      next.secret,
      'mutation ($id: ID!) { setApiKeyEnabled(id: $id, enabled: false) { status previousSecretExpiresAt } }',
      { id: key.id },
    );
    expect(off.data!.setApiKeyEnabled).toEqual({ status: 'DISABLED', previousSecretExpiresAt: null });
    const on = await post(
      a.url,
      adminKey,
      'mutation ($id: ID!) { setApiKeyEnabled(id: $id, enabled: true) { status previousSecretExpiresAt } }',
      { id: key.id },
    );
    expect(on.data!.setApiKeyEnabled).toEqual({ status: 'ENABLED', previousSecretExpiresAt: null });
    const answered = Date.now();
    expect(await statusOf(a.url, next.secret)).toBe(200);
    expect(await statusOf(a.url, key.secret)).toBe(401);
    expect(await statusReached(b.url, next.secret, 200, answered)).toBeLessThan(1_000);
    expect(await statusOf(b.url, key.secret)).toBe(401);
  });

  it('regenerating during an overlap ends the older secret, keeps the one it replaces', async () => {
    const key = await member();
    const first = await regenerate(key, 60);
    for (const server of [a, b]) expect(await statusOf(server.url, key.secret)).toBe(200);
    const oldest = await openWsSession(b.url, key.secret);
    const middle = await openWsSession(b.url, first.secret);
    const second = await regenerate({ id: key.id, secret: first.secret }, 30);
    const answered = Date.now();
    expect(await statusOf(a.url, key.secret)).toBe(401);
    expect(await statusReached(b.url, key.secret, 401, answered)).toBeLessThan(1_000);
    for (const server of [a, b]) {
      expect(await statusOf(server.url, first.secret)).toBe(200);
      expect(await statusOf(server.url, second.secret)).toBe(200);
    }
    // The older secret's socket closes; the replaced one's stays for its own overlap.
    const closed = await oldest.closed;
    expect(closed.code).toBe(4401);
    expect(closed.reason).toMatch(/regenerated/);
    await settle(200);
    expect(middle.log.some((m) => m.type === 'close')).toBe(false);
    middle.close();
    const end = new Date(second.until!).getTime();
    expect(end).toBeGreaterThan(Date.now() + 29 * 60_000);
    expect(end).toBeLessThan(Date.now() + 31 * 60_000);
    // overlapMinutes 0 ends the previous secret at once.
    const third = await regenerate({ id: key.id, secret: second.secret }, 0);
    expect(third.until).toBeNull();
    const done = Date.now();
    expect(await statusOf(a.url, first.secret)).toBe(401);
    expect(await statusOf(a.url, second.secret)).toBe(401);
    expect(await statusReached(b.url, second.secret, 401, done)).toBeLessThan(1_000);
    expect(await statusOf(b.url, third.secret)).toBe(200);
  });

  it('both secrets count against one rate-limit window (the key)', async () => {
    const key = await member();
    const next = await regenerate(key, 60);
    const remaining = async (secret: string) => Number((await viewer(a.url, secret)).headers.get('x-ratelimit-remaining'));
    const r1 = await remaining(next.secret);
    const r2 = await remaining(key.secret);
    const r3 = await remaining(next.secret);
    const r4 = await remaining(key.secret);
    expect([r2, r3, r4]).toEqual([r1 - 1, r1 - 2, r1 - 3]);
  });

  it('lastUsedFrom: the client address of the last use of either secret, written with lastUsedAt by the flush', async () => {
    const key = await member();
    const next = await regenerate(key, 60);
    await a.services.lastUsed.flush();
    // The regeneration itself was a use of the key, from this test's own address.
    expect((await post(a.url, adminKey, KEY, { id: key.id })).data!.apiKey.lastUsedFrom).toBe('127.0.0.1');
    expect((await viewer(a.url, key.secret, '203.0.113.7')).status).toBe(200);
    // No write per request: nothing until the flush.
    const row = await a.services.prisma.apiKey.findUniqueOrThrow({ where: { id: key.id } });
    expect(row.lastUsedFrom).toBe('127.0.0.1');
    await a.services.lastUsed.flush();
    const seen = (await post(a.url, adminKey, KEY, { id: key.id })).data!.apiKey;
    expect(seen.lastUsedFrom).toBe('203.0.113.7');
    expect(seen.lastUsedAt).not.toBeNull();

    expect((await viewer(b.url, next.secret, '2001:db8::9')).status).toBe(200);
    await b.services.lastUsed.flush();
    const listed = await post(
      a.url,
      adminKey,
      'query ($v: String) { teamApiKeys(filter: { keyValue: $v }) { edges { node { id lastUsedFrom previousSecretExpiresAt } } } }',
      { v: next.secret },
    );
    expect(listed.data!.teamApiKeys.edges).toEqual([
      { node: { id: key.id, lastUsedFrom: '2001:db8::9', previousSecretExpiresAt: next.until } },
    ]);
    // An older use flushed later (another instance's buffer) changes nothing.
    b.services.lastUsed.record(key.id, Date.now() - 60_000, '192.0.2.1');
    await b.services.lastUsed.flush();
    expect((await post(a.url, adminKey, KEY, { id: key.id })).data!.apiKey.lastUsedFrom).toBe('2001:db8::9');
  });

  it('a previous secret found exposed during its overlap exposes its key (the scanner looks it up too)', async () => {
    const key = await member();
    await regenerate(key, 60);
    const res = await post(
      a.url,
      adminKey,
      'mutation ($text: String!) { reportExposedApiKeys(text: $text, location: "https://paste.example/1") { apiKey { id } resolved } }',
      { text: `leaked: ${key.secret}` },
    );
    expect(res.data!.reportExposedApiKeys).toEqual([{ apiKey: { id: key.id }, resolved: false }]);
  });

  it('overlapMinutes: 0..1440, checked after the role and existence checks (SPEC §4 order)', async () => {
    const key = await member();
    for (const overlap of [-1, 1441]) {
      const res = await post(a.url, key.secret, REGENERATE, { id: key.id, overlap });
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'overlapMinutes' });
    }
    expect(await statusOf(a.url, key.secret)).toBe(200); // nothing was regenerated
    // Another team's key: NOT_FOUND, whatever the overlap.
    const other = await addTeam(a);
    const theirs = await a.services.prisma.apiKey.findFirstOrThrow({ where: { teamId: other.teamId } });
    const notFound = await post(a.url, adminKey, REGENERATE, { id: theirs.id, overlap: -1 });
    expect(notFound.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    // An admin may not regenerate a member's key: FORBIDDEN before BAD_USER_INPUT.
    const forbidden = await post(a.url, adminKey, REGENERATE, { id: key.id, overlap: 5000 });
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // A disabled key keeps no previous secret.
    await post(a.url, adminKey, 'mutation ($id: ID!) { setApiKeyEnabled(id: $id, enabled: false) { status } }', { id: key.id });
    const owner = await a.services.prisma.apiKey.findUniqueOrThrow({ where: { id: key.id } });
    const ownerKey = await a.services.keys.issuePersonalKey({ userId: owner.createdById, teamId }, { name: 'second key' });
    const refused = await post(a.url, ownerKey.secret, REGENERATE, { id: key.id, overlap: 10 });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'overlapMinutes' });
    const plain = await post(a.url, ownerKey.secret, REGENERATE, { id: key.id, overlap: 0 });
    expect(plain.data!.regenerateApiKey.apiKey).toMatchObject({ status: 'DISABLED', previousSecretExpiresAt: null });
  });
});
