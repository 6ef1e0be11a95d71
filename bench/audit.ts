// Scale: 1,000,000 audit events for one team (and 200,000 over nine others) in PostgreSQL.
// Measures p50/p99 of auditEvents pages over HTTP for each filter, and the server's RSS while
// GET /audit/export streams the whole million (CSV, then NDJSON), sampling /proc/<pid>/status.
//   DATABASE_URL=postgres://…/test npx tsx bench/audit.ts   (creates and drops its own database;
//   BENCH_KEEP=1 keeps it for EXPLAIN ANALYZE)
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { mintKey } from '../src/keys/service.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 200);
const base = process.env.DATABASE_URL;
if (!base?.startsWith('postgres')) throw new Error('set DATABASE_URL to a PostgreSQL server');

const name = `kp_audit_${Date.now()}`;
const dbUrl = new URL(base);
dbUrl.pathname = `/${name}`;

const ACTIONS = [
  'api_key.created',
  'api_key.rotated',
  'api_key.renamed',
  'api_key.enabled',
  'api_key.disabled',
  'api_key.expiry_changed',
  'api_key.revoked',
  'collection.created',
  'collection.updated',
  'collection.shared',
  'access_key.revoked',
  'member.invited',
  'member.joined',
  'settings.updated',
  'exposure.reported',
];

async function seed(client: pg.Client) {
  const t = Date.now();
  // api_key.revoked is common (bulk revocations); the rest spread evenly; audit.exported rare.
  await client.query(`
    INSERT INTO "Team"(id, name, plan) SELECT 'team-' || g, 'Team ' || g, 'ENTERPRISE' FROM generate_series(1, 10) g;
    INSERT INTO "User"(id, "teamId", email, name, role)
      SELECT 'user-' || t || '-' || u, 'team-' || t, 'u' || u || '@t' || t || '.example', 'User ' || u,
             (CASE WHEN u = 1 THEN 'SUPER_ADMIN' WHEN u = 2 THEN 'TEAM_ADMIN' ELSE 'MEMBER' END)::"TeamRole"
        FROM generate_series(1, 10) t, generate_series(1, 20) u;
    INSERT INTO "AuditEvent"(id, "teamId", at, action, "actorType", "actorId", "actorKeyHint", "targetType", "targetId", summary, address, "userAgent")
      SELECT 'ev-' || lpad(g::text, 8, '0'), 'team-' || tm,
             -- 90 days of history; whole milliseconds, some shared (bulk revocations share one)
             date_trunc('milliseconds', now() - (g % 1000000) * interval '7776 milliseconds'),
             CASE WHEN g % 5 = 0 THEN 'api_key.revoked' WHEN g % 100003 = 7 THEN 'audit.exported'
                  ELSE (ARRAY[${ACTIONS.map((a) => `'${a}'`).join(',')}])[1 + g % ${ACTIONS.length}] END,
             (CASE WHEN g % 11 = 0 THEN 'SYSTEM' ELSE 'USER' END)::"AuditActorType",
             CASE WHEN g % 11 = 0 THEN NULL ELSE 'user-' || tm || '-' || (1 + g % 20) END,
             CASE WHEN g % 11 = 0 THEN NULL ELSE 'kp_…' || substr(md5(g::text), 1, 4) END,
             'api_key', 'key-' || (g % 50000), 'Revoked key ' || (g % 50000) || ' (kp_…' || substr(md5(g::text), 1, 4) || '): REVOKED_BY_ADMIN',
             '10.0.' || (g % 256) || '.' || (g % 250), 'Mozilla/5.0 (bench; "x", y)'
        FROM (SELECT g, CASE WHEN g <= 1000000 THEN 1 ELSE 2 + (g % 9) END AS tm FROM generate_series(1, 1200000) g) s;
  `);
  await client.query('VACUUM ANALYZE');
  await client.query('CHECKPOINT');
  return Date.now() - t;
}

function startServer(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
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
      const url = /listening on (\S+)/.exec(out)?.[1];
      if (url) resolve({ child, url });
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
}

const rssMiB = (pid: number) => {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return kb / 1024;
};

const QUERY = `query($filter: AuditEventFilter, $first: Int, $after: String) {
  auditEvents(filter: $filter, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id at action actorType actor { id name } actorKeyHint targetType targetId summary address userAgent } }
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
    client.on('error', () => {});
    await client.connect();
    const seedMs = await seed(client);
    const adminKey = mintKey('PERSONAL');
    await client.query(
      `INSERT INTO "ApiKey"(id, "teamId", kind, name, hash, hint, "createdById", "updatedAt") VALUES ('bench-admin', 'team-1', 'PERSONAL', 'bench', $1, $2, 'user-1-1', now())`,
      [adminKey.hash, adminKey.hint],
    );
    const count = (await client.query(`SELECT count(*)::int AS n FROM "AuditEvent" WHERE "teamId" = 'team-1'`)).rows[0].n;
    console.log(`seeded ${count} events for team-1 (+200,000 for 9 other teams) in ${(seedMs / 1000).toFixed(1)} s`);

    const call = async (variables: object) => {
      const res = await fetch(server!.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': adminKey.secret },
        body: JSON.stringify({ query: QUERY, variables }),
      });
      const body = (await res.json()) as { errors?: unknown; data: { auditEvents: { edges: unknown[]; pageInfo: { endCursor: string } } } };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data.auditEvents;
    };

    let deep: string | null = null;
    for (let i = 0; i < 49; i++) deep = (await call({ first: 50, after: deep })).pageInfo.endCursor;
    const day = (daysAgo: number) => new Date(Date.now() - daysAgo * 86_400_000).toISOString();

    const cases: [string, object][] = [
      ['no filter', {}],
      ['actions [api_key.revoked] (20%)', { filter: { actions: ['api_key.revoked'] } }],
      ['actions, 3 of them', { filter: { actions: ['api_key.rotated', 'member.joined', 'settings.updated'] } }],
      ['actions [audit.exported] (rare)', { filter: { actions: ['audit.exported'] } }],
      ['actorId', { filter: { actorId: 'user-1-5' } }],
      ['targetId', { filter: { targetId: 'key-4242' } }],
      ['from/to: one day, 30 days ago', { filter: { from: day(31), to: day(30) } }],
      ['actorId + actions (none match)', { filter: { actorId: 'user-1-5', actions: ['api_key.revoked', 'api_key.created'] } }],
      ['actorId + actions', { filter: { actorId: 'user-1-6', actions: ['api_key.revoked', 'api_key.rotated'] } }],
      ['actions + from/to', { filter: { actions: ['api_key.revoked'], from: day(61), to: day(60) } }],
      ['page 50 (keyset cursor)', { first: 50, after: deep }],
      ['first 500', { first: 500 }],
    ];
    console.log(`\nauditEvents over HTTP, team of ${count} events, first 50, ${ITERATIONS} sequential calls each:`);
    for (const [label, variables] of cases) {
      for (let i = 0; i < 10; i++) await call(variables);
      const times: number[] = [];
      let n = 0;
      for (let i = 0; i < ITERATIONS; i++) {
        const t = performance.now();
        n = (await call(variables)).edges.length;
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      const p = (q: number) => (times[Math.max(0, Math.ceil(q * times.length) - 1)] ?? 0).toFixed(1);
      console.log(`  ${label.padEnd(36)} p50 ${p(0.5).padStart(6)} ms   p99 ${p(0.99).padStart(6)} ms   (${n} rows)`);
    }

    const pid = server.child.pid!;
    for (const format of ['csv', 'ndjson']) {
      const before = rssMiB(pid);
      let peak = before;
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssMiB(pid));
      }, 50);
      const t = performance.now();
      const res = await fetch(`${server.url.replace(/\/graphql$/, '/audit/export')}?from=2000-01-01&to=2100-01-01&format=${format}`, {
        headers: { 'x-api-key': adminKey.secret },
      });
      if (res.status !== 200) throw new Error(`export: ${res.status} ${await res.text()}`);
      let bytes = 0;
      let lines = 0;
      // RSS as the export goes: constant memory means flat from the first batches to the last.
      const marks = [100_000, 500_000, 900_000];
      const atMarks: string[] = [];
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        bytes += chunk.length;
        for (const b of chunk) if (b === 10) lines += 1;
        if (marks.length && lines >= marks[0]!) atMarks.push(`${marks.shift()! / 1000}k: ${rssMiB(pid).toFixed(0)} MiB`);
      }
      clearInterval(sampler);
      console.log(`  RSS at ${atMarks.join(', ')}`);
      const s = (performance.now() - t) / 1000;
      console.log(
        `\nexport ${format}: ${lines} lines, ${(bytes / 1048576).toFixed(0)} MiB in ${s.toFixed(1)} s; server RSS ${before.toFixed(0)} MiB before, peak ${peak.toFixed(0)} MiB while streaming (+${(peak - before).toFixed(0)} MiB)`,
      );
    }
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
