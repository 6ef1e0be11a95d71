// `npm run bench`: requests per second through Keyplane's whole hot path (auth + rate limit +
// quota + GraphQL) against a bare graphql-yoga server with a Map lookup, in one run, alternating,
// with the same load (autocannon), connections, duration and query shape. Prints rps, p50, p99
// and the ratio Keyplane / bare, on the embedded defaults and (with DATABASE_URL and REDIS_URL)
// on PostgreSQL + Redis.
//   BENCH_SECONDS=10 BENCH_CONNECTIONS=32 BENCH_ROUNDS=3 npm run bench
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BODY = JSON.stringify({ query: '{ viewer { keyKind } }' });
const ROOT = path.resolve(import.meta.dirname, '..');

interface Started {
  child: ChildProcess;
  url: string;
  key: string;
}

function start(args: string[], env: Record<string, string>, keyOf: (out: string) => string): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const url = /listening on (http:\/\/\S+\/graphql)/.exec(out)?.[1];
      if (url && (!out.includes('Keyplane') || /Bootstrap admin key: kp_\w+\n/.test(out))) {
        resolve({ child, url, key: keyOf(out) });
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
}

function stop(s: Started): Promise<void> {
  return new Promise((resolve) => {
    s.child.once('exit', () => resolve());
    s.child.kill('SIGTERM');
  });
}

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
}

async function load(s: Started): Promise<Figures> {
  const result = await autocannon({
    url: s.url,
    method: 'POST',
    connections: CONNECTIONS,
    duration: SECONDS,
    headers: { 'content-type': 'application/json', 'x-api-key': s.key },
    body: BODY,
  });
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function compare(label: string, keyplaneEnv: Record<string, string>) {
  const bare = await start(['bench/bare-server.ts'], { BENCH_KEY: 'bare-key' }, () => 'bare-key');
  const bareSameLimit = await start(['bench/bare-server.ts'], { BENCH_KEY: 'bare-key', BARE_BODY_LIMIT: 'ours' }, () => 'bare-key');
  const dataDir = await mkdtemp(path.join(tmpdir(), 'keyplane-bench-'));
  const keyplane = await start(
    ['src/main.ts'],
    {
      PORT: '0',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_MINUTE: '1000000000',
      MONTHLY_QUOTA_ENTERPRISE: '1000000000',
      ...keyplaneEnv,
    },
    (out) => /Bootstrap admin key: (kp_\w+)/.exec(out)![1],
  );
  try {
    // Warm all (JIT, caches), then alternate runs so that machine noise hits each alike.
    const servers = [bare, bareSameLimit, keyplane];
    for (const s of servers) {
      await autocannon({ url: s.url, method: 'POST', duration: 2, connections: CONNECTIONS, headers: { 'content-type': 'application/json', 'x-api-key': s.key }, body: BODY });
    }
    const runs: Figures[][] = [[], [], []];
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, s] of servers.entries()) runs[i].push(await load(s));
    }
    const [fa, fa2, fb] = runs.map((r) => ({ rps: mean(r.map((x) => x.rps)), p50: mean(r.map((x) => x.p50)), p99: mean(r.map((x) => x.p99)) }));
    const bad = runs.flat().reduce((n, x) => n + x.non2xx, 0);
    const line = (name: string, f: typeof fa) => `${name}${f.rps.toFixed(0)} rps, p50 ${f.p50.toFixed(1)} ms, p99 ${f.p99.toFixed(1)} ms`;
    const perRound = (base: Figures[]) => runs[2].map((x, i) => (x.rps / base[i].rps).toFixed(2)).join(', ');
    console.log(`\n${label}: ${ROUNDS} alternating rounds of ${SECONDS} s, ${CONNECTIONS} connections, query { viewer { keyKind } }`);
    console.log(line('  (a)  bare yoga + Map lookup (stock yoga):        ', fa));
    console.log(line("  (a') bare yoga + Map lookup, Keyplane's body limit: ", fa2));
    console.log(line('  (b)  Keyplane full path:                        ', fb));
    console.log(`  ratio b/a  (rps): ${(fb.rps / fa.rps).toFixed(2)}   per round: ${perRound(runs[0])}`);
    console.log(`  ratio b/a' (rps): ${(fb.rps / fa2.rps).toFixed(2)}   per round: ${perRound(runs[1])}   (the cost of Keyplane's own path)`);
    if (bad > 0) console.log(`  WARNING: ${bad} non-2xx responses`);
  } finally {
    await Promise.all([stop(bare), stop(bareSameLimit), stop(keyplane)]);
    await rm(dataDir, { recursive: true, force: true });
  }
}

await compare('embedded defaults (PGlite, in-process limits)', { DATABASE_URL: '', REDIS_URL: '' });
if (process.env.DATABASE_URL && process.env.REDIS_URL) {
  // A database of its own, so that the first start bootstraps and prints a key.
  const { default: pg } = await import('pg');
  const base = new URL(process.env.DATABASE_URL);
  const name = `kp_bench_${Date.now()}`;
  const admin = new pg.Client({ connectionString: base.toString() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  try {
    await compare('PostgreSQL + Redis', { DATABASE_URL: url.toString(), REDIS_URL: process.env.REDIS_URL, REDIS_KEY_PREFIX: name });
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}
