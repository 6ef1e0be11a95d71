// The caller costs no database read on a verification-cache hit (issue 15, item 4): `viewer` and
// what it nests about the caller (user, team, its own key) come from the cache, counted against the
// real database (pg_stat_user_tables of the test's own database). And the cache stays true across
// instances: a member's role or name, a team's plan or name, a key's name changed through the API
// or by another process in SQL is seen by another instance's viewer (and its authorization) within
// the key-change lag (SPEC §5: 1 s), not after the cache's 10 s.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type KeyplaneServer, startKeyplane } from '../../src/server.js';
import { principalOf } from '../helpers/fixtures.js';
import { keyChangesFollowed, makeTestEnv, useTestServer } from '../helpers/server.js';

const Q1 = '{ viewer { keyKind user { id name email role } team { id name plan } } }';
const OWN_KEY = '{ viewer { apiKey { id name hint status createdAt expiresAt lastUsedAt } } }';

async function post(url: string, key: string, query: string, variables?: Record<string, unknown>) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: Record<string, any>; errors?: { extensions?: { code?: string } }[] };
  return { status: res.status, ...body };
}

type Reads = Record<'User' | 'Team' | 'ApiKey', number>;

/**
 * Scans (sequential + index) of the tables the caller lives in, as PostgreSQL counts them. A
 * backend reports its counts at most once a second, or up to 10 s later when it goes idle: the
 * server's pooled connections are ended first (a backend reports on exit; the pool opens new ones),
 * so that every read made so far is counted. The LISTEN connection is left alone.
 */
async function reads(admin: pg.Client): Promise<Reads> {
  const pooled = `SELECT pid FROM pg_stat_activity
                   WHERE datname = current_database() AND pid <> pg_backend_pid()
                     AND backend_type = 'client backend' AND application_name <> 'keyplane key changes'`;
  await admin.query(`SELECT pg_terminate_backend(pid) FROM (${pooled}) p`);
  for (let i = 0; (await admin.query(pooled)).rowCount! > 0; i++) {
    if (i > 200) throw new Error('pooled connections did not end');
    await new Promise((r) => setTimeout(r, 25));
  }
  const { rows } = await admin.query<{ relname: keyof Reads; n: string }>(
    `SELECT relname, coalesce(seq_scan, 0) + coalesce(idx_scan, 0) AS n FROM pg_stat_user_tables
      WHERE relname IN ('User', 'Team', 'ApiKey')`,
  );
  return Object.fromEntries(rows.map((r) => [r.relname, Number(r.n)])) as Reads;
}

const delta = (before: Reads, after: Reads): Reads => ({
  User: after.User - before.User,
  Team: after.Team - before.Team,
  ApiKey: after.ApiKey - before.ApiKey,
});

describe('the caller costs no database read on a cache hit', () => {
  const server = useTestServer({ RATE_LIMIT_PER_MINUTE: '100000' });
  let admin: pg.Client;

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: server.databaseUrl });
    await admin.connect();
    // Background writers that scan these tables on their own schedule (lastUsedAt flush, expiry
    // job; the monthly usage flush, whose first insert checks its Team foreign key) are stopped,
    // so that every scan counted below is a request's.
    await server.services.lastUsed.stop();
    await server.services.expiryJob.stop();
    await server.services.quota.stop();
  });
  afterAll(() => admin?.end());

  it('answers viewer (user, team, its own key) from the verification cache', async () => {
    // The first use reads the key (a miss) and caches it with its owner and team.
    const first = await post(server.url, server.adminKey, Q1);
    expect(first.status).toBe(200);
    expect(first.data!.viewer).toMatchObject({
      keyKind: 'PERSONAL',
      user: { email: 'admin@keyplane.local', role: 'SUPER_ADMIN' },
      team: { plan: 'ENTERPRISE' },
    });
    // The reads counter works: a request that reads (the caller's own key list) is counted.
    const control = await reads(admin);
    expect((await post(server.url, server.adminKey, '{ apiKeys { id } }')).status).toBe(200);
    expect((await reads(admin)).ApiKey).toBeGreaterThan(control.ApiKey);

    const before = await reads(admin);
    for (let i = 0; i < 20; i++) {
      const r = await post(server.url, server.adminKey, Q1);
      expect(r.errors).toBeUndefined();
      expect(r.data!.viewer).toEqual(first.data!.viewer);
      const own = await post(server.url, server.adminKey, OWN_KEY);
      expect(own.errors).toBeUndefined();
      expect(own.data!.viewer.apiKey).toMatchObject({ status: 'ENABLED', hint: `kp_…${server.adminKey.slice(-4)}` });
      expect(own.data!.viewer.apiKey.lastUsedAt).not.toBeNull();
    }
    expect(delta(before, await reads(admin))).toEqual({ User: 0, Team: 0, ApiKey: 0 });
  });
});

describe('the cached caller stays true across instances', () => {
  let env: Awaited<ReturnType<typeof makeTestEnv>>;
  let a: KeyplaneServer;
  let b: KeyplaneServer;
  let sql: pg.Client;
  let key: string;
  let userId: string;
  let teamId: string;

  beforeAll(async () => {
    env = await makeTestEnv({ RATE_LIMIT_PER_MINUTE: '100000' });
    a = await startKeyplane(loadConfig(env.env));
    b = await startKeyplane(loadConfig(env.env));
    key = a.bootstrapKey!;
    sql = new pg.Client({ connectionString: env.env.DATABASE_URL });
    await sql.connect();
    ({ userId, teamId } = await principalOf(a, key));
    // Both instances follow key changes before the measurements start.
    await Promise.all([a, b].map(keyChangesFollowed));
  });
  afterAll(async () => {
    await sql?.end();
    await a?.close();
    await b?.close();
    await env?.cleanup();
  });

  /** Asks `server` until `seen` holds; the ms it took (the change's lag on that instance). */
  async function lagUntil(server: KeyplaneServer, query: string, seen: (r: Awaited<ReturnType<typeof post>>) => boolean) {
    const since = Date.now();
    for (;;) {
      const r = await post(server.url, key, query);
      if (seen(r)) return Date.now() - since;
      if (Date.now() - since > 5_000) throw new Error(`not seen after 5 s: ${JSON.stringify(r)}`);
      await new Promise((res) => setTimeout(res, 20));
    }
  }

  it("sees another process's change of the member's role and name, and the team's plan and name", async () => {
    // B has the caller cached (and would keep it 10 s without the change feed).
    const cached = await post(b.url, key, Q1);
    expect(cached.data!.viewer.user).toMatchObject({ name: 'Admin', role: 'SUPER_ADMIN' });
    expect((await post(b.url, key, '{ teamApiKeys { totalCount } }')).errors).toBeUndefined();

    // Another process (this test's own connection) demotes and renames the member.
    await sql.query(`UPDATE "User" SET "role" = 'MEMBER', "name" = 'Demoted' WHERE "id" = $1`, [userId]);
    const userLag = await lagUntil(b, Q1, (r) => r.data?.viewer.user.role === 'MEMBER' && r.data?.viewer.user.name === 'Demoted');
    // The role decides at once on B too: an admin field is FORBIDDEN.
    const forbidden = await post(b.url, key, '{ teamApiKeys { totalCount } }');
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    await sql.query(`UPDATE "User" SET "role" = 'SUPER_ADMIN' WHERE "id" = $1`, [userId]);
    await lagUntil(b, Q1, (r) => r.data?.viewer.user.role === 'SUPER_ADMIN');

    await sql.query(`UPDATE "Team" SET "plan" = 'FREE', "name" = 'Renamed team' WHERE "id" = $1`, [teamId]);
    const teamLag = await lagUntil(b, Q1, (r) => r.data?.viewer.team.plan === 'FREE' && r.data?.viewer.team.name === 'Renamed team');
    const planRequired = await post(b.url, key, '{ teamApiKeys { totalCount } }');
    expect(planRequired.errors?.[0]?.extensions?.code).toBe('PLAN_REQUIRED');
    await sql.query(`UPDATE "Team" SET "plan" = 'ENTERPRISE' WHERE "id" = $1`, [teamId]);
    await lagUntil(b, Q1, (r) => r.data?.viewer.team.plan === 'ENTERPRISE');

    // Within the key-change lag (SPEC §5: 1 s; the request loop adds its own time), not the TTL.
    expect(userLag).toBeLessThan(1_000);
    expect(teamLag).toBeLessThan(1_000);
  });

  it("sees a key renamed through another instance's API (and at once on that instance)", async () => {
    const before = await post(b.url, key, OWN_KEY);
    const id = before.data!.viewer.apiKey.id as string;
    await post(a.url, key, OWN_KEY); // A has it cached too
    const renamed = await post(a.url, key, 'mutation($id: ID!) { renameApiKey(id: $id, name: "Renamed key") { name } }', { id });
    expect(renamed.errors).toBeUndefined();
    expect((await post(a.url, key, OWN_KEY)).data!.viewer.apiKey.name).toBe('Renamed key');
    expect(await lagUntil(b, OWN_KEY, (r) => r.data?.viewer.apiKey.name === 'Renamed key')).toBeLessThan(1_000);
  });
});
