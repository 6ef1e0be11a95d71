// Scale: 1,000,000 keys over 1,000 teams in PostgreSQL, one team holding 100,000. Measures p50/p99
// of teamApiKeys over HTTP for each filter and order, a key-value search and a page 50 pages deep.
//   DATABASE_URL=postgres://…/test npm run bench:team-keys      (creates and drops its own database;
//   BENCH_KEEP=1 keeps it for EXPLAIN ANALYZE)
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { mintKey } from '../src/keys/service.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 100);
const base = process.env.DATABASE_URL;
if (!base?.startsWith('postgres')) throw new Error('set DATABASE_URL to a PostgreSQL server');

const name = `kp_scale_${Date.now()}`;
const dbUrl = new URL(base);
dbUrl.pathname = `/${name}`;

async function seed(client: pg.Client) {
  const t = Date.now();
  await client.query(`
    INSERT INTO "Team"(id, name, plan) SELECT 'team-' || g, 'Team ' || g, 'ENTERPRISE' FROM generate_series(1, 1000) g;
    INSERT INTO "User"(id, "teamId", email, name, role)
      SELECT 'user-' || t || '-' || u, 'team-' || t, 'u' || u || '@t' || t || '.example', 'User ' || u,
             (CASE WHEN u = 1 THEN 'SUPER_ADMIN' WHEN u = 2 THEN 'TEAM_ADMIN' ELSE 'MEMBER' END)::"TeamRole"
        FROM generate_series(1, 1000) t, generate_series(1, 20) u;
    -- keys 1..100000 belong to team 1; the other 900,000 are spread over teams 2..1000.
    INSERT INTO "ApiKey"(id, "teamId", kind, name, hash, hint, "createdById", status, "createdAt", "updatedAt",
                         "lastUsedAt", "expiresAt", "chosenExpiresAt")
      SELECT 'key-' || lpad(g::text, 7, '0'), 'team-' || tm, 'PERSONAL', 'key ' || g,
             md5(g::text) || md5((g::bigint * 7919)::text), substr(md5((g::bigint * 31)::text), 1, 4),
             'user-' || tm || '-' || (1 + g % 20),
             (CASE WHEN g % 10 = 0 THEN 'DISABLED' WHEN g % 10 = 1 THEN 'REVOKED' ELSE 'ENABLED' END)::"ApiKeyStatus",
             -- whole seconds: many keys share a timestamp
             date_trunc('second', now() - (g % 5000000) * interval '3 seconds'), now(),
             CASE WHEN g % 3 = 0 THEN NULL ELSE date_trunc('second', now() - (g % 86400) * interval '1 second') END,
             -- expired a day ago (persisted below, as the expiry job keeps it), a few just now
             -- (not yet persisted: they read REVOKED/EXPIRED at once), some in 30 days
             CASE WHEN g % 7 = 0 THEN now() - interval '1 day' WHEN g % 997 = 5 THEN now() - interval '5 seconds'
                  WHEN g % 7 = 1 THEN now() + interval '30 days' ELSE NULL END,
             NULL
        FROM (SELECT g, CASE WHEN g <= 100000 THEN 1 ELSE 2 + (g % 999) END AS tm FROM generate_series(1, 1000000) g) s;
    UPDATE "ApiKey" SET "revocationReason" = 'REVOKED_BY_ADMIN', "revokedAt" = "createdAt" + interval '1 hour', "revokedById" = 'user-1-2'
      WHERE status = 'REVOKED';
    -- The steady state: keys that expired a day ago were persisted by the expiry job long since.
    UPDATE "ApiKey" SET status = 'REVOKED', "revocationReason" = 'EXPIRED', "revokedAt" = "expiresAt", "revokedById" = NULL
      WHERE status <> 'REVOKED' AND "expiresAt" < now() - interval '1 hour';
  `);
  // The steady state again: a table that took a million inserts is vacuumed before it is read
  // (otherwise autovacuum does it during the measurement, and index-only scans visit the heap).
  await client.query('VACUUM ANALYZE');
  // …and its dirty pages written out now, not by a checkpoint in the middle of the measurement.
  await client.query('CHECKPOINT');
  return Date.now() - t;
}

function startServer(): Promise<{ child: ChildProcess; url: string }> {
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []; // e.g. --trace-gc
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      LOG_LEVEL: 'warn',
      DATABASE_URL: dbUrl.toString(),
      RATE_LIMIT_PER_MINUTE: '1000000000',
      MONTHLY_QUOTA_ENTERPRISE: '1000000000',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (process.env.BENCH_SERVER_LOG) appendFileSync(process.env.BENCH_SERVER_LOG, c);
      const url = /listening on (\S+)/.exec(out)?.[1];
      if (url) resolve({ child, url });
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
}

const QUERY = `query($filter: TeamApiKeyFilter, $orderBy: ApiKeyOrder, $first: Int, $after: String) {
  teamApiKeys(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id name hint status createdAt expiresAt lastUsedAt revokedAt revocationReason createdBy { id name role } } }
  }
}`;

async function main() {
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  let server: { child: ChildProcess; url: string } | undefined;
  try {
    server = await startServer(); // applies the migrations
    const client = new pg.Client({ connectionString: dbUrl.toString() });
    client.on('error', () => {}); // the database is dropped WITH (FORCE) at the end
    await client.connect();
    const seedMs = await seed(client);
    const adminKey = mintKey('PERSONAL');
    await client.query(
      `INSERT INTO "ApiKey"(id, "teamId", kind, name, hash, hint, "createdById", "updatedAt") VALUES ('bench-admin', 'team-1', 'PERSONAL', 'bench', $1, $2, 'user-1-1', now())`,
      [adminKey.hash, adminKey.hint],
    );
    const someKey = mintKey('PERSONAL');
    await client.query(
      `INSERT INTO "ApiKey"(id, "teamId", kind, name, hash, hint, "createdById", "updatedAt") VALUES ('bench-find', 'team-1', 'PERSONAL', 'findme', $1, $2, 'user-1-7', now())`,
      [someKey.hash, someKey.hint],
    );
    const count = (await client.query('SELECT count(*)::int AS n FROM "ApiKey"')).rows[0].n;
    console.log(`seeded ${count} keys over 1,000 teams (team-1: 100,002) in ${(seedMs / 1000).toFixed(1)} s`);

    const call = async (variables: object) => {
      const res = await fetch(server!.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': adminKey.secret },
        body: JSON.stringify({ query: QUERY, variables }),
      });
      const body = (await res.json()) as {
        errors?: unknown;
        data: { teamApiKeys: { totalCount: number; pageInfo: { endCursor: string } } };
      };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data.teamApiKeys;
    };

    // The cursor of page 50 (49 pages of 50 in).
    let after: string | null = null;
    for (let i = 0; i < 49; i++) after = (await call({ first: 50, after })).pageInfo.endCursor;

    const cases: [string, object][] = [
      ['NEWEST (default)', {}],
      ['OLDEST', { orderBy: 'OLDEST' }],
      ['RECENTLY_USED', { orderBy: 'RECENTLY_USED' }],
      ['statuses [ENABLED]', { filter: { statuses: ['ENABLED'] } }],
      ['statuses [DISABLED]', { filter: { statuses: ['DISABLED'] } }],
      ['statuses [REVOKED] (expired included)', { filter: { statuses: ['REVOKED'] } }],
      ['statuses [DISABLED, REVOKED]', { filter: { statuses: ['DISABLED', 'REVOKED'] } }],
      ['createdBy', { filter: { createdBy: 'user-1-5' } }],
      ['createdBy + RECENTLY_USED', { filter: { createdBy: 'user-1-5' }, orderBy: 'RECENTLY_USED' }],
      ['keyValue: whole key', { filter: { keyValue: someKey.secret } }],
      ['keyValue: hint', { filter: { keyValue: `kp_…${someKey.hint}` } }],
      ['page 50 (keyset cursor)', { first: 50, after }],
    ];
    console.log(`\nteamApiKeys over HTTP, team of 100,002 keys, first 50, ${ITERATIONS} sequential calls each:`);
    const benchStart = performance.now();
    const slow: string[] = [];
    for (const [label, variables] of cases) {
      for (let i = 0; i < 5; i++) await call(variables); // warm
      const times: number[] = [];
      let total = 0;
      const startedAt: number[] = [];
      for (let i = 0; i < ITERATIONS; i++) {
        const t = performance.now();
        startedAt.push(t);
        total = (await call(variables)).totalCount;
        times.push(performance.now() - t);
      }
      const byTime = times.map((ms, i) => ({ ms, i }));
      slow.push(
        ...byTime
          .filter((x) => x.ms > 20)
          .map((x) => `${label} #${x.i}: ${x.ms.toFixed(1)} ms at +${((startedAt[x.i] ?? 0) - benchStart).toFixed(0)} ms`),
      );
      times.sort((a, b) => a - b);
      // nearest rank: p99 of 100 calls is the 99th fastest (not the slowest)
      const p = (q: number) => times[Math.max(0, Math.ceil(q * times.length) - 1)].toFixed(1);
      console.log(`  ${label.padEnd(40)} p50 ${p(0.5).padStart(6)} ms   p99 ${p(0.99).padStart(6)} ms   (totalCount ${total})`);
    }
    if (process.env.BENCH_SLOW) console.log(`calls over 20 ms, with when they started:\n  ${slow.join('\n  ')}`);
    await client.end();
  } finally {
    if (server) {
      server.child.kill('SIGTERM');
      await new Promise((r) => server!.child.once('exit', r));
    }
    if (process.env.BENCH_KEEP) console.log(`kept database ${name} (BENCH_KEEP)`);
    else await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

await main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
