// Loading the index of live key hashes (src/auth/key-index.ts) from PostgreSQL: time and memory
// for KEY_INDEX_KEYS keys (default 1,000,000) in a database of its own, dropped afterwards; on
// the embedded PostgreSQL (default settings, a temporary DATA_DIR) unless DATABASE_URL is set.
//   npx tsx bench/key-index-load.ts
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx bench/key-index-load.ts
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { KeyHashIndex } from '../src/auth/key-index.js';
import { openDatabase } from '../src/db/database.js';
import { startEmbeddedPostgres } from '../src/db/embedded/embedded-postgres.js';

const n = Number(process.env.KEY_INDEX_KEYS ?? 1_000_000);
const embeddedDir = process.env.DATABASE_URL ? null : await mkdtemp(path.join(tmpdir(), 'keyplane-bench-'));
if (embeddedDir) await chmod(embeddedDir, 0o755);
const embedded = embeddedDir ? await startEmbeddedPostgres({ dataDir: embeddedDir, log: console }) : null;
console.log(embedded ? 'on the embedded PostgreSQL' : 'on DATABASE_URL');
const base = new URL(embedded?.url ?? process.env.DATABASE_URL!);
const name = `kp_bench_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: base.toString() });
await admin.connect();
await admin.query(`CREATE DATABASE ${name}`);
const url = new URL(base);
url.pathname = `/${name}`;
const db = await openDatabase({ dataDir: '.data', databaseUrl: url.toString(), log: console });
try {
  const seed = new pg.Client({ connectionString: url.toString() });
  await seed.connect();
  const started = Date.now();
  await seed.query(`ALTER TABLE "ApiKey" DISABLE TRIGGER USER`); // a seed, not key changes to announce
  await seed.query(`INSERT INTO "Team" ("id", "name") VALUES ('t', 'bench')`);
  await seed.query(`INSERT INTO "User" ("id", "teamId", "email", "name") VALUES ('u', 't', 'b@example.com', 'b')`);
  await seed.query(
    `INSERT INTO "ApiKey" ("id", "teamId", "name", "hash", "hint", "createdById")
     SELECT 'k' || i, 't', 'k', encode(sha256(i::text::bytea), 'hex'), 'XXXX', 'u' FROM generate_series(1, $1) AS i`,
    [n],
  );
  await seed.query(`ANALYZE "ApiKey"`);
  await seed.end();
  console.log(`seeded ${n} keys in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  for (let run = 1; run <= 3; run++) {
    globalThis.gc?.();
    const before = process.memoryUsage();
    const index = new KeyHashIndex();
    const t0 = performance.now();
    await index.reload(db.prisma);
    const ms = performance.now() - t0;
    globalThis.gc?.();
    const after = process.memoryUsage();
    const mb = (x: number) => (x / 1024 / 1024).toFixed(1);
    console.log(
      `run ${run}: ${index.size} hashes loaded in ${ms.toFixed(0)} ms; retained: arrayBuffers +${mb(after.arrayBuffers - before.arrayBuffers)} MB, ` +
        `heapUsed +${mb(after.heapUsed - before.heapUsed)} MB, rss +${mb(after.rss - before.rss)} MB (peak rss ${mb(after.rss)} MB)`,
    );
    const probes = Array.from({ length: 100_000 }, () => randomBytes(32).toString('hex'));
    const t1 = performance.now();
    let hits = 0;
    for (const probe of probes) if (index.has(probe)) hits += 1;
    console.log(`  100,000 lookups of random hashes: ${(performance.now() - t1).toFixed(0)} ms (${hits} false positives)`);
  }
} finally {
  await db.close();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
  await embedded?.stop();
  if (embeddedDir) await rm(embeddedDir, { recursive: true, force: true });
}
