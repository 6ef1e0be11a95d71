// `npm run bench` (issue 15): Keyplane against bare graphql-yoga baselines on the operations users
// run, in one run, alternating rounds, autocannon, 32 connections, on the embedded default and on
// PostgreSQL + Redis. Every row prints rps, p50, p99 and the ratio Keyplane / baseline.
//   Q1  { viewer { keyKind user { id name email role } team { id name plan } } }
//       baseline: bare yoga answering the same shape from a Map
//   Q2  { apiKeys { id name hint status createdAt expiresAt lastUsedAt } }, a member with 20 keys
//       baseline: bare yoga + Prisma findMany on the same database
//   Q3  { teamApiKeys(first: 50, filter: {statuses: [ENABLED]}) { totalCount edges { node { id name
//       hint createdBy { name } lastUsedAt } } } }, a team of 10,000 keys made by 12 members
//       baseline: bare yoga + the same SQL (page + TeamKeyCount), same database
//   Q4  Q1 with a fresh random key passing the checksum per request, from one address: 401s, then
//       429s; reads of ApiKey by hash counted in pg_stat_user_indexes (must be ≤
//       AUTH_FAILURES_PER_MINUTE per window, i.e. 0 once blocked); rps compared with Q1's
//   floor  { viewer { keyKind } } (no database in either): not a figure of the product
// A Q1–Q3 (or floor) response that is non-2xx or holds GraphQL `errors` (every body is checked),
// a Q4 answer other than 401/429, or a Keyplane answer that differs from its baseline's makes the
// run INVALID: it says so and exits 2. A mode that could not run exits 3.
//
// Modes (BENCH_MODES, comma-separated; default "default,pg+redis"):
//   default   `node --import tsx src/main.ts` with DATABASE_URL and REDIS_URL unset and a fresh
//             DATA_DIR (mkdtemp, 0755: the embedded PostgreSQL runs as an unprivileged user when we
//             are root); the bench reads DATA_DIR/embedded-postgres.json for its own connections.
//   pg+redis  a database the bench creates and drops on the PostgreSQL server of DATABASE_URL
//             (default postgres://postgres@127.0.0.1:5432/postgres), and REDIS_URL (default
//             redis://127.0.0.1:6379) under a key prefix of its own, deleted at the end.
//   pg        the same PostgreSQL without Redis (in-process limits).
// Knobs (trial runs only; below the defaults the output says it is no figure):
//   BENCH_SECONDS=8 BENCH_ROUNDS=3 BENCH_CONNECTIONS=32 BENCH_WARMUP_SECONDS=2
//   BENCH_STATS_SETTLE_MS=11000 (PostgreSQL publishes a backend's counters up to 10 s late)
// Before/after (issue 20's "costs nothing measurable"):
//   BENCH_BASELINE_CHECKOUT=<dir>  the baseline is Keyplane from that checkout (e.g. `git archive
//             main`), same database and settings, instead of bare yoga; rows report the median of
//             the rounds' ratios and their spread; Q4 is skipped.
//   BENCH_OTLP=1  this checkout's Keyplane exports traces (OTEL_EXPORTER_OTLP_ENDPOINT) to an
//             OTLP/HTTP receiver in the bench that accepts and discards them.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import pg from 'pg';
import { generateKey } from '../src/keys/format.js';
import { mintKey } from '../src/keys/service.js';
import type { BarePrincipal } from './bare-server.js';

const num = (name: string, fallback: number) => Number(process.env[name] || fallback);
const SECONDS = num('BENCH_SECONDS', 8);
const ROUNDS = num('BENCH_ROUNDS', 3);
const CONNECTIONS = num('BENCH_CONNECTIONS', 32);
const WARMUP = num('BENCH_WARMUP_SECONDS', 2);
const SETTLE_MS = num('BENCH_STATS_SETTLE_MS', 11_000);
const PAUSE_MS = 500;
const MODES = (process.env.BENCH_MODES || 'default,pg+redis')
  .split(',')
  .map((m) => m.trim())
  .filter(Boolean);
const BASELINE_CHECKOUT = process.env.BENCH_BASELINE_CHECKOUT ? path.resolve(process.env.BENCH_BASELINE_CHECKOUT) : undefined;
const OTLP = process.env.BENCH_OTLP === '1';
const TRIAL = SECONDS < 8 || ROUNDS < 3 || CONNECTIONS !== 32;
const AUTH_FAILURES = 20; // the default of AUTH_FAILURES_PER_MINUTE, set explicitly below
const TEAM_KEYS = 10_000;
const OWN_KEYS = 20;
const MEMBERS = 10; // + the admin + the Q2 member: 12 creators
const ROOT = path.resolve(import.meta.dirname, '..');
const PG_BASE = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

const Q1 = '{ viewer { keyKind user { id name email role } team { id name plan } } }';
const Q2 = '{ apiKeys { id name hint status createdAt expiresAt lastUsedAt } }';
const Q3 =
  '{ teamApiKeys(first: 50, filter: {statuses: [ENABLED]}) { totalCount edges { node { id name hint createdBy { name } lastUsedAt } } } }';
const FLOOR = '{ viewer { keyKind } }';

const redact = (s: string) => s.replace(/kp[cs]?_[0-9A-Za-z]{36}/g, 'kp_[redacted]');

// ---------------------------------------------------------------------------------------------
// Processes

interface Proc {
  child: ChildProcess;
  url: string;
  bootstrapKey?: string;
}

function launch(script: string, env: Record<string, string>, label: string, expectBootstrapKey = false, cwd = ROOT): Promise<Proc> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString();
    process.stderr.write(redact(c.toString()).replace(/^(?=.)/gm, `[${label}] `));
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const url = /listening on (http:\/\/\S+\/graphql)/.exec(out)?.[1];
      const key = /Bootstrap admin key: (kp_[0-9A-Za-z]{36})\n/.exec(out)?.[1];
      if (url && (!expectBootstrapKey || key)) resolve({ child, url, bootstrapKey: key });
    });
    child.once('exit', (code) => reject(new Error(`${label} exited ${code} before listening:\n${redact(out + err).slice(-3000)}`)));
  });
}

async function stopProc(p: Proc | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => p.child.once('exit', () => resolve()));
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------
// Load

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  bad: number; // non-2xx, GraphQL errors, socket errors, timeouts (Q1–Q3, floor); non-401/429 (Q4)
  statuses: Record<string, number>;
  firstBad?: string;
}

function cannon(
  url: string,
  headers: Record<string, string>,
  body: string,
  seconds: number,
  opts: { randomKeys?: boolean } = {},
): Promise<Figures> {
  let firstBad: string | undefined;
  const statuses: Record<string, number> = {};
  let badBodies = 0;
  const onResponse = (status: number, resBody: string) => {
    statuses[status] = (statuses[status] ?? 0) + 1;
    const ok = opts.randomKeys
      ? status === 401 || status === 429
      : status >= 200 && status < 300 && resBody.startsWith('{"data":') && !resBody.includes('"errors"');
    if (!ok) {
      badBodies += 1;
      firstBad ??= `${status} ${redact(resBody).slice(0, 300)}`;
    }
  };
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        method: 'POST',
        connections: CONNECTIONS,
        duration: seconds,
        requests: [
          {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...headers },
            body,
            // Q4: a new key passing the checksum per request (never one of the database's). A
            // prebuilt array of 20,000 such requests instead left autocannon with timeouts.
            ...(opts.randomKeys
              ? { setupRequest: (req: any) => ({ ...req, headers: { ...req.headers, 'x-api-key': generateKey('PERSONAL') } }) }
              : {}),
            onResponse,
          },
        ],
      },
      (error, r) => {
        if (error) return reject(error);
        const wrongStatus = opts.randomKeys ? 0 : r.non2xx;
        resolve({
          rps: r.requests.average,
          p50: r.latency.p50,
          p99: r.latency.p99,
          requests: r.requests.total,
          bad: Math.max(badBodies, wrongStatus) + r.errors + r.timeouts,
          statuses,
          firstBad: firstBad ?? (r.errors + r.timeouts ? `${r.errors} socket errors, ${r.timeouts} timeouts` : undefined),
        });
      },
    );
  });
}

async function post(url: string, key: string, query: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, body: await res.json() };
}

// ---------------------------------------------------------------------------------------------
// Seed: members, a member with 20 keys, a team of 10,000 keys made by 12 members, by SQL (as
// src/keys/service.ts stores them: SHA-256 hex hash, 4-character hint, PERSONAL). The keys the
// bench authenticates with are minted as Keyplane mints them.

interface Seeded {
  adminKey: string;
  memberKey: string;
  admin: BarePrincipal;
  member: BarePrincipal;
  enabledTeamKeys: number;
}

async function seed(dbUrl: string, kpUrl: string, adminKey: string): Promise<Seeded> {
  const { body } = await post(kpUrl, adminKey, Q1);
  if (body.errors) throw new Error(`viewer of the bootstrap key: ${JSON.stringify(body.errors)}`);
  const v = body.data.viewer;
  const admin: BarePrincipal = { keyKind: 'PERSONAL', userId: v.user.id, teamId: v.team.id, user: v.user, team: v.team };
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    const t = Date.now();
    const memberKey = mintKey('PERSONAL');
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO "User"(id, "teamId", email, name, role)
         SELECT 'bench-member-' || u, $1, 'member' || u || '@bench.example', 'Member ' || u, 'MEMBER'::"TeamRole" FROM generate_series(1, $2::int) u
       UNION ALL SELECT 'bench-q2', $1, 'q2@bench.example', 'Q2 Member', 'MEMBER'::"TeamRole"`,
      [admin.teamId, MEMBERS],
    );
    // Q2's member: 20 keys, one of them the key the bench uses.
    await client.query(
      `INSERT INTO "ApiKey"(id, "teamId", kind, name, hash, hint, "createdById", status, "createdAt", "updatedAt", "lastUsedAt", "expiresAt")
         VALUES ('bench-q2-key', $1, 'PERSONAL', 'bench key', $2, $3, 'bench-q2', 'ENABLED', now(), now(), NULL, NULL)`,
      [admin.teamId, memberKey.hash, memberKey.hint],
    );
    await client.query(
      `INSERT INTO "ApiKey"(id, "teamId", kind, name, hash, hint, "createdById", status, "createdAt", "updatedAt", "lastUsedAt", "expiresAt")
         SELECT 'bench-q2-' || lpad(g::text, 2, '0'), $1, 'PERSONAL', 'own key ' || g,
                encode(sha256(('bench-q2-' || g || '-' || $2)::bytea), 'hex'), substr(md5(g::text), 1, 4), 'bench-q2',
                (CASE WHEN g % 5 = 0 THEN 'DISABLED' ELSE 'ENABLED' END)::"ApiKeyStatus",
                date_trunc('milliseconds', now() - g * interval '1 hour'), now(),
                CASE WHEN g % 2 = 0 THEN date_trunc('milliseconds', now() - g * interval '1 minute') END,
                CASE WHEN g % 3 = 0 THEN date_trunc('milliseconds', now() + interval '30 days') END
           FROM generate_series(1, $3::int) g`,
      [admin.teamId, Date.now(), OWN_KEYS - 1],
    );
    // The rest of the team's 10,000 (the bootstrap key and Q2's 20 included): made by the admin and
    // 10 members in turn; 10% DISABLED, 10% REVOKED by an admin, some expired (persisted, as the
    // expiry job leaves them), some expiring in 30 days, a third never used.
    const rest = TEAM_KEYS - 1 - OWN_KEYS;
    await client.query(
      `INSERT INTO "ApiKey"(id, "teamId", kind, name, hash, hint, "createdById", status, "createdAt", "updatedAt",
                            "lastUsedAt", "expiresAt", "revokedAt", "revocationReason", "revokedById")
         SELECT 'bench-key-' || lpad(g::text, 5, '0'), $1, 'PERSONAL', 'team key ' || g,
                encode(sha256(('bench-team-' || g || '-' || $3)::bytea), 'hex'), substr(md5(g::text), 1, 4),
                CASE WHEN g % 11 = 0 THEN $2 ELSE 'bench-member-' || (g % 11) END,
                (CASE WHEN g % 10 = 0 THEN 'DISABLED' WHEN g % 10 = 1 OR g % 13 = 0 THEN 'REVOKED' ELSE 'ENABLED' END)::"ApiKeyStatus",
                c, now(),
                CASE WHEN g % 3 <> 0 THEN c + (g % 1000) * interval '1 second' END,
                CASE WHEN g % 13 = 0 THEN c + interval '1 hour' WHEN g % 7 = 0 THEN now() + interval '30 days' END,
                CASE WHEN g % 13 = 0 THEN c + interval '1 hour' WHEN g % 10 = 1 THEN c + interval '2 hours' END,
                (CASE WHEN g % 13 = 0 THEN 'EXPIRED' WHEN g % 10 = 1 THEN 'REVOKED_BY_ADMIN' END)::"RevocationReason",
                CASE WHEN g % 10 = 1 AND g % 13 <> 0 THEN $2 END
           FROM (SELECT g, date_trunc('milliseconds', now() - interval '1 day' - g * interval '37 seconds') AS c
                   FROM generate_series(1, $4::int) g) s`,
      [admin.teamId, admin.userId, Date.now(), rest],
    );
    await client.query('COMMIT');
    await client.query('VACUUM ANALYZE "ApiKey"');
    await client.query('VACUUM ANALYZE "User"');
    await client.query('VACUUM ANALYZE "TeamKeyCount"');
    await client.query('CHECKPOINT').catch(() => {}); // not allowed to every role: then the server's own checkpoints
    const counts = (
      await client.query(
        `SELECT count(*)::int AS total,
                count(*) FILTER (WHERE status = 'ENABLED' AND ("expiresAt" IS NULL OR "expiresAt" > now()))::int AS enabled,
                count(DISTINCT "createdById")::int AS creators
           FROM "ApiKey" WHERE "teamId" = $1 AND kind = 'PERSONAL'`,
        [admin.teamId],
      )
    ).rows[0];
    const own = (await client.query(`SELECT count(*)::int AS n FROM "ApiKey" WHERE "createdById" = 'bench-q2'`)).rows[0].n;
    console.log(
      `  seeded in ${((Date.now() - t) / 1000).toFixed(1)} s: team of ${counts.total} keys (${counts.enabled} live ENABLED) by ${counts.creators} members; the Q2 member has ${own} keys`,
    );
    if (counts.total !== TEAM_KEYS || own !== OWN_KEYS) throw new Error('seeding did not give the intended counts');
    const member: BarePrincipal = {
      keyKind: 'PERSONAL',
      userId: 'bench-q2',
      teamId: admin.teamId,
      user: { id: 'bench-q2', name: 'Q2 Member', email: 'q2@bench.example', role: 'MEMBER' },
      team: admin.team,
    };
    return { adminKey, memberKey: memberKey.secret, admin, member, enabledTeamKeys: counts.enabled };
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------
// Reads of ApiKey, from PostgreSQL's cumulative statistics: lookups by hash (the unique index on
// hash: what a guess costs), and every scan of the table (background jobs included).

async function apiKeyReads(client: pg.Client): Promise<{ byHash: number; all: number }> {
  await client.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await client.query(
    `SELECT (SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes WHERE relname = 'ApiKey' AND indexrelname = 'ApiKey_hash_key')::bigint AS by_hash,
            (SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables WHERE relname = 'ApiKey')::bigint AS all_scans`,
  );
  return { byHash: Number(rows[0].by_hash), all: Number(rows[0].all_scans) };
}

// ---------------------------------------------------------------------------------------------
// One mode

interface Row {
  id: string;
  query: string;
  title: string;
  target: number | null;
  kp: Figures[];
  base: Figures[];
}

interface Q4Round {
  fig: Figures;
  byHash: number;
  all: number;
  windows: number;
}

/** PSS in MB (shared pages counted once) of a process, with its children when `tree`. */
async function pssMb(pid: number, tree: boolean): Promise<number> {
  const pids = [pid];
  for (let i = 0; tree && i < pids.length; i++) {
    const children = await readFile(`/proc/${pids[i]}/task/${pids[i]}/children`, 'utf8').catch(() => '');
    if (children.trim()) pids.push(...children.trim().split(' ').map(Number));
  }
  let kb = 0;
  for (const p of pids) kb += Number(/Pss:\s+(\d+)/.exec(await readFile(`/proc/${p}/smaps_rollup`, 'utf8').catch(() => ''))?.[1] ?? 0);
  return Math.round(kb / 1024);
}

interface Memory {
  node: number;
  /** the embedded PostgreSQL (postmaster and backends); absent on an external one */
  postgres?: number;
}

/** Keyplane's memory: node alone (the embedded PostgreSQL is its child) and PostgreSQL's tree. */
async function keyplaneMemory(kp: Proc, dataDir: string, embedded: boolean): Promise<Memory> {
  const node = await pssMb(kp.child.pid!, false);
  if (!embedded) return { node };
  const pid = Number((await readFile(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  return { node, postgres: pid > 0 ? await pssMb(pid, true) : undefined };
}

const withoutLastUsed = (body: unknown) => JSON.stringify(body, (k, v) => (k === 'lastUsedAt' ? undefined : v));

interface ModeResult {
  memory?: { idle: Memory; load: Memory };
  label: string;
  rows: Row[];
  q4: Q4Round[];
  invalid: string[];
  belowTarget: string[];
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function runMode(mode: string): Promise<ModeResult> {
  const label = {
    default: 'embedded default (embedded PostgreSQL, in-process limits)',
    'pg+redis': 'PostgreSQL + Redis',
    pg: 'PostgreSQL, no Redis',
  }[mode];
  if (!label) throw new Error(`unknown mode ${mode} (default, pg+redis, pg)`);
  console.log(`\n=== ${label} ===`);
  const dataDir = await mkdtemp(path.join(tmpdir(), 'keyplane-bench-'));
  await chmod(dataDir, 0o755);
  const name = `kp_bench_${Date.now()}`;
  const env: Record<string, string> = {
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    KEY_PEPPER: '',
    TRUST_PROXY: '',
    // The limits stay on, high enough for the load not to meet them.
    RATE_LIMIT_PER_MINUTE: '1000000000',
    RATE_LIMIT_WINDOW_SECONDS: '60',
    MONTHLY_QUOTA_FREE: '1000000000',
    MONTHLY_QUOTA_ENTERPRISE: '1000000000',
    AUTH_FAILURES_PER_MINUTE: String(AUTH_FAILURES),
    DATABASE_URL: '',
    REDIS_URL: '',
  };
  let admin: pg.Client | undefined;
  let redisUrl: string | undefined;
  if (mode !== 'default') {
    admin = new pg.Client({ connectionString: PG_BASE });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(PG_BASE);
    url.pathname = `/${name}`;
    env.DATABASE_URL = url.toString();
    if (mode === 'pg+redis') {
      redisUrl = REDIS;
      env.REDIS_URL = REDIS;
      env.REDIS_KEY_PREFIX = name;
    }
  }
  const dbUrlNow = async () => {
    if (mode !== 'default') return env.DATABASE_URL;
    let c: { port: number; user: string; password: string; database: string };
    try {
      c = JSON.parse(await readFile(path.join(dataDir, 'embedded-postgres.json'), 'utf8'));
    } catch {
      throw new Error(
        'DATA_DIR/embedded-postgres.json is missing: this checkout still runs the old embedded database (PGlite), which the bench cannot read from outside',
      );
    }
    return `postgres://${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@127.0.0.1:${c.port}/${encodeURIComponent(c.database)}`;
  };

  let kp: Proc | undefined;
  let bare: Proc | undefined;
  let stats: pg.Client | undefined;
  const otlp = OTLP ? await discardingOtlpReceiver() : undefined;
  try {
    // First start: migrations and the bootstrap key; seed; then a restart, so that the runs see
    // a server in its steady state (key index loaded from the seeded table, not built by 10,000
    // change notices).
    const first = await launch('src/main.ts', env, 'keyplane', true);
    kp = first;
    const seeded = await seed(await dbUrlNow(), first.url, first.bootstrapKey!);
    await stopProc(kp);
    kp = await launch('src/main.ts', otlp ? { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint } : env, 'keyplane');
    const dbUrl = await dbUrlNow();
    bare = BASELINE_CHECKOUT
      ? // The same settings on the same database (embedded: its server, by URL, with a DATA_DIR of its own).
        await launch(
          'src/main.ts',
          {
            ...env,
            DATABASE_URL: dbUrl,
            ...(mode === 'default' ? { DATA_DIR: await mkdtemp(path.join(tmpdir(), 'keyplane-bench-base-')) } : {}),
          },
          'baseline',
          false,
          BASELINE_CHECKOUT,
        )
      : await launch(
          'bench/bare-server.ts',
          { DATABASE_URL: dbUrl, BARE_PRINCIPALS: JSON.stringify({ 'bare-admin': seeded.admin, 'bare-member': seeded.member }) },
          'bare',
        );
    stats = new pg.Client({ connectionString: dbUrl });
    await stats.connect();
    const keyplaneProc = kp;
    const idleMemory = await keyplaneMemory(keyplaneProc, dataDir, mode === 'default');
    const loadMemory: Memory = { node: 0, postgres: idleMemory.postgres === undefined ? undefined : 0 };
    const sampleLoad = async () => {
      const m = await keyplaneMemory(keyplaneProc, dataDir, mode === 'default');
      loadMemory.node = Math.max(loadMemory.node, m.node);
      if (m.postgres !== undefined) loadMemory.postgres = Math.max(loadMemory.postgres ?? 0, m.postgres);
    };

    const kpKey = { admin: seeded.adminKey, member: seeded.memberKey };
    const baseKey = BASELINE_CHECKOUT ? kpKey : { admin: 'bare-admin', member: 'bare-member' };
    const rows: (Row & { who: 'admin' | 'member' })[] = [
      {
        id: 'Q1',
        query: Q1,
        title: 'viewer + user + team   vs bare yoga, Map',
        target: mode === 'default' ? 0.8 : mode === 'pg+redis' ? 0.7 : null,
        who: 'admin',
        kp: [],
        base: [],
      },
      { id: 'Q2', query: Q2, title: 'apiKeys, 20 keys        vs bare yoga + findMany', target: 0.8, who: 'member', kp: [], base: [] },
      { id: 'Q3', query: Q3, title: 'teamApiKeys, 10,000     vs bare yoga + same SQL', target: 0.8, who: 'admin', kp: [], base: [] },
      {
        id: 'floor',
        query: FLOOR,
        title: '{ viewer { keyKind } } vs bare yoga, Map (floor only)',
        target: null,
        who: 'admin',
        kp: [],
        base: [],
      },
    ];
    const invalid: string[] = [];

    // Both sides answer the same thing (and it is what was seeded), before any load.
    for (const row of rows) {
      const a = await post(kp.url, kpKey[row.who], row.query);
      const b = await post(bare.url, baseKey[row.who], row.query);
      if (a.status !== 200 || a.body.errors)
        invalid.push(`${row.id}: Keyplane answered ${a.status} ${redact(JSON.stringify(a.body)).slice(0, 400)}`);
      else if (b.status !== 200 || b.body.errors)
        invalid.push(`${row.id}: the baseline answered ${b.status} ${JSON.stringify(b.body).slice(0, 400)}`);
      // lastUsedAt may lag real use by up to 10 s (SPEC §4): the two reads may straddle a flush.
      else if (withoutLastUsed(a.body) !== withoutLastUsed(b.body)) {
        invalid.push(
          `${row.id}: Keyplane and the baseline answer differently:\n    ${redact(JSON.stringify(a.body)).slice(0, 400)}\n    ${JSON.stringify(b.body).slice(0, 400)}`,
        );
      }
      if (row.id === 'Q2' && a.body.data?.apiKeys?.length !== OWN_KEYS)
        invalid.push(`Q2: ${a.body.data?.apiKeys?.length} keys, not ${OWN_KEYS}`);
      if (row.id === 'Q3') {
        const c = a.body.data?.teamApiKeys;
        const creators = new Set(c?.edges?.map((e: any) => e.node.createdBy.name));
        if (c?.totalCount !== seeded.enabledTeamKeys || c?.edges?.length !== 50)
          invalid.push(`Q3: totalCount ${c?.totalCount} (seeded ${seeded.enabledTeamKeys}), ${c?.edges?.length} edges`);
        else console.log(`  Q3 answers totalCount ${c.totalCount}, 50 edges by ${creators.size} creators`);
      }
    }
    const q4probe = BASELINE_CHECKOUT ? undefined : await post(kp.url, generateKey('PERSONAL'), Q1); // opens the address's failure window
    let windowStart = Date.now(); // that window, as the answers show it
    if (q4probe && q4probe.status !== 401) invalid.push(`Q4: a random key was answered ${q4probe.status}, not 401`);
    if (invalid.length) return { label, rows, q4: [], invalid, belowTarget: [] };

    // Warm both sides of every row (JIT, caches, pools).
    for (const row of rows) {
      await cannon(bare.url, { 'x-api-key': baseKey[row.who] }, JSON.stringify({ query: row.query }), WARMUP);
      await cannon(kp.url, { 'x-api-key': kpKey[row.who] }, JSON.stringify({ query: row.query }), WARMUP);
    }

    const q4: Q4Round[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      process.stdout.write(`  round ${round + 1}/${ROUNDS}:`);
      for (const row of rows) {
        const body = JSON.stringify({ query: row.query });
        // Alternate which side goes first, so that drift in the machine's load hits both alike.
        const sides = round % 2 === 0 ? (['base', 'kp'] as const) : (['kp', 'base'] as const);
        for (const side of sides) {
          const sampler = side === 'kp' ? setInterval(() => void sampleLoad(), 1_000) : undefined;
          const f =
            side === 'kp'
              ? await cannon(kp.url, { 'x-api-key': kpKey[row.who] }, body, SECONDS)
              : await cannon(bare.url, { 'x-api-key': baseKey[row.who] }, body, SECONDS);
          clearInterval(sampler);
          row[side].push(f);
          await sleep(PAUSE_MS); // the last run's stragglers (GC, flushes) out of the next one
          if (f.bad)
            invalid.push(
              `${row.id} round ${round + 1} ${side === 'kp' ? 'Keyplane' : 'baseline'}: ${f.bad} bad answers of ${f.requests}; first: ${f.firstBad}`,
            );
        }
        process.stdout.write(` ${row.id}`);
      }
      if (BASELINE_CHECKOUT) {
        process.stdout.write('\n');
        continue;
      }
      // Q4: guesses from one address. The counters of the server's backends reach the statistics
      // up to 10 s late: settle before and after.
      await sleep(SETTLE_MS);
      const before = await apiKeyReads(stats);
      const started = Date.now();
      const fig = await cannon(kp.url, {}, JSON.stringify({ query: Q1 }), SECONDS, { randomKeys: true });
      const ended = Date.now();
      await sleep(SETTLE_MS);
      const after = await apiKeyReads(stats);
      // Windows of AUTH_FAILURES_PER_MINUTE that opened during the run (a fixed 60 s window opens
      // at the first failure after the last one closed): at most that many reads each.
      let windows = windowStart + 60_000 > started ? 1 : 0; // the window still open at the start
      for (let t = Math.max(windowStart + 60_000, started); t < ended; t += 60_000) {
        windows += 1;
        windowStart = t;
      }
      q4.push({ fig, byHash: after.byHash - before.byHash, all: after.all - before.all, windows });
      if (fig.bad) invalid.push(`Q4 round ${round + 1}: ${fig.bad} answers neither 401 nor 429; first: ${fig.firstBad}`);
      process.stdout.write(
        ` Q4 (${fig.statuses[401] ?? 0}×401, ${fig.statuses[429] ?? 0}×429, ${after.byHash - before.byHash} reads by hash)\n`,
      );
    }
    return { label, rows, q4, invalid, belowTarget: [], memory: { idle: idleMemory, load: loadMemory } };
  } finally {
    await stats?.end().catch(() => {});
    await Promise.all([stopProc(bare), stopProc(kp)]);
    if (otlp) console.log(`  OTLP receiver: ${otlp.received()} export requests accepted and discarded`);
    await otlp?.close();
    if (admin) {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch((e: unknown) => console.error(`could not drop ${name}:`, e));
      await admin.end();
    }
    if (redisUrl) {
      const { Redis } = await import('ioredis');
      const redis = new Redis(redisUrl, { lazyConnect: true });
      try {
        await redis.connect();
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${name}*`, 'COUNT', 1000);
          if (keys.length) await redis.del(...keys);
          cursor = next;
        } while (cursor !== '0');
      } finally {
        redis.disconnect();
      }
    }
    await rm(dataDir, { recursive: true, force: true }).catch(() => {});
  }
}

/** BENCH_OTLP: an OTLP/HTTP receiver that reads each export and answers 200, keeping nothing. */
async function discardingOtlpReceiver() {
  let received = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received: () => received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// ---------------------------------------------------------------------------------------------
// Report

function report(r: ModeResult) {
  const f = (x: number, d = 1) => x.toFixed(d);
  const agg = (fs: Figures[]) => ({ rps: mean(fs.map((x) => x.rps)), p50: mean(fs.map((x) => x.p50)), p99: mean(fs.map((x) => x.p99)) });
  console.log(
    `\n${r.label}: ${ROUNDS} alternating rounds of ${SECONDS} s, ${CONNECTIONS} connections (rps, p50/p99 in ms: means of the rounds)`,
  );
  console.log(
    '  row    operation / baseline                                  Keyplane rps   p50   p99 │ baseline rps   p50   p99 │ ratio  (per round)        target',
  );
  for (const row of r.rows) {
    if (!row.kp.length) continue;
    const a = agg(row.kp);
    const b = agg(row.base);
    const ratio = a.rps / b.rps;
    const ratios = row.kp.map((x, i) => x.rps / row.base[i].rps);
    const sorted = [...ratios].sort((x, y) => x - y);
    const per = `${ratios.map((x) => f(x, 2)).join(', ')}${BASELINE_CHECKOUT ? `; median ${f(sorted[Math.floor(sorted.length / 2)], 3)}, spread ${f(sorted[0], 2)}–${f(sorted[sorted.length - 1], 2)}` : ''}`;
    const verdict = row.target == null ? '' : ratio >= row.target ? `≥ ${row.target} ok` : `≥ ${row.target} BELOW TARGET`;
    if (row.target != null && ratio < row.target) r.belowTarget.push(`${row.id} ${f(ratio, 2)}× (target ${row.target}×)`);
    console.log(
      `  ${row.id.padEnd(6)} ${row.title.padEnd(54)} ${f(a.rps, 0).padStart(12)} ${f(a.p50).padStart(5)} ${f(a.p99).padStart(5)} │ ${f(b.rps, 0).padStart(12)} ${f(b.p50).padStart(5)} ${f(b.p99).padStart(5)} │ ${f(ratio, 2).padStart(5)}  (${per})`.padEnd(
        170,
      ) + verdict,
    );
  }
  if (r.q4.length) {
    const q1 = r.rows[0].kp;
    const a = agg(r.q4.map((x) => x.fig));
    const ratio = a.rps / agg(q1).rps;
    const per = r.q4.map((x, i) => f(x.fig.rps / q1[i].rps, 2)).join(', ');
    const readsOk = r.q4.every((x) => x.byHash <= AUTH_FAILURES * Math.max(1, x.windows) && x.byHash <= (x.fig.statuses[401] ?? 0));
    if (ratio < 1) r.belowTarget.push(`Q4 ${f(ratio, 2)}× Q1's rps (target ≥ 1)`);
    if (!readsOk) r.belowTarget.push(`Q4 reads over AUTH_FAILURES_PER_MINUTE (${AUTH_FAILURES}) per window`);
    console.log(
      `  ${'Q4'.padEnd(6)} ${'Q1 with random checksum-valid keys, one address'.padEnd(54)} ${f(a.rps, 0).padStart(12)} ${f(a.p50).padStart(5)} ${f(a.p99).padStart(5)} │ ${"Keyplane's Q1".padStart(24)} │ ${f(ratio, 2).padStart(5)}  (${per})`.padEnd(
        170,
      ) + (ratio >= 1 ? '≥ 1 ok' : '≥ 1 BELOW TARGET'),
    );
    for (const [i, x] of r.q4.entries()) {
      console.log(
        `         round ${i + 1}: ${x.fig.statuses[401] ?? 0}×401, ${x.fig.statuses[429] ?? 0}×429; ApiKey reads by hash ${x.byHash} (limit ${AUTH_FAILURES} × ${x.windows} window${x.windows === 1 ? '' : 's'} of 60 s) ${x.byHash <= AUTH_FAILURES * Math.max(1, x.windows) ? 'ok' : 'OVER'}; all ApiKey scans ${x.all} (background jobs included)`,
      );
    }
  }
  if (r.memory) {
    const m = (x: Memory) => `node ${x.node} MB${x.postgres === undefined ? '' : ` + PostgreSQL ${x.postgres} MB`}`;
    console.log(`  memory (PSS): idle ${m(r.memory.idle)}; under load (max, Keyplane's runs) ${m(r.memory.load)}`);
  }
  for (const line of r.invalid) console.log(`  INVALID: ${line}`);
}

console.log(
  `npm run bench: ${cpus().length} CPUs, load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')} at start (the machine is shared: compare ratios, not rps)`,
);
if (BASELINE_CHECKOUT)
  console.log(
    `BASELINE: Keyplane from ${BASELINE_CHECKOUT} (the rows' "vs …" name the usual baselines; their targets do not apply)${OTLP ? '; this checkout exports traces to a discarding OTLP receiver' : ''}`,
  );
if (TRIAL)
  console.log(
    `TRIAL SETTINGS (BENCH_SECONDS=${SECONDS} BENCH_ROUNDS=${ROUNDS} BENCH_CONNECTIONS=${CONNECTIONS}): not the benchmark's figures`,
  );
const results: ModeResult[] = [];
const failed: string[] = [];
for (const mode of MODES) {
  try {
    const r = await runMode(mode);
    results.push(r);
    report(r);
  } catch (error) {
    failed.push(`${mode}: ${error instanceof Error ? error.message : String(error)}`);
    console.log(`\n${mode}: COULD NOT RUN: ${redact(String(error instanceof Error ? error.message : error))}`);
  }
}
console.log(
  `\nload average at the end: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
const invalid = results.flatMap((r) => r.invalid.map((l) => `${r.label}: ${l}`));
const below = results.flatMap((r) => r.belowTarget.map((l) => `${r.label}: ${l}`));
if (below.length) console.log(`\nBelow target:\n  ${below.join('\n  ')}`);
if (invalid.length) {
  console.log(`\n!!! INVALID RUN: ${invalid.length} problem(s) above; these figures are not results !!!`);
  process.exit(2);
}
if (failed.length) {
  console.log(`\n!!! INCOMPLETE RUN: ${failed.join('; ')} !!!`);
  process.exit(3);
}
