// The cost of rotation with overlap on the verification path (issue 17): a cache miss reads by
// hash OR by previousHash (during an overlap) in one statement, and the key index loads both
// columns. Measured against the statements they replace, on one database with KEYS keys, 1% of
// them in an overlap:
//   DATABASE_URL=postgres://…/some_scratch_db npx tsx bench/rotation-lookup.ts
// (the database is migrated by a start of Keyplane, then filled by SQL; drop it afterwards).
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { startKeyplane } from '../src/server.js';

const KEYS = Number(process.env.KEYS ?? 200_000);
const LOOKUPS = 3_000;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

function percentile(sorted: number[], p: number) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function timeEach(db: pg.Client, sql: string, params: (h: string) => unknown[], hashes: string[]) {
  const ms: number[] = [];
  for (const h of hashes) {
    const t = process.hrtime.bigint();
    await db.query({ name: sql.slice(0, 60), text: sql, values: params(h) });
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  ms.sort((a, b) => a - b);
  return `p50 ${percentile(ms, 50).toFixed(3)} ms, p99 ${percentile(ms, 99).toFixed(3)} ms`;
}

async function main() {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL (a scratch database) is required');
  const server = await startKeyplane(loadConfig({ ...process.env, PORT: '0', LOG_LEVEL: 'silent', DATA_DIR: '/tmp/rotbench' }));
  const team = await server.services.prisma.team.findFirstOrThrow();
  const user = await server.services.prisma.user.findFirstOrThrow();
  await server.close();
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const seed = randomBytes(8).toString('hex');
  await db.query(
    `INSERT INTO "ApiKey" ("id", "teamId", "name", "hash", "hint", "createdById", "previousHash", "previousSecretExpiresAt")
     SELECT 'bench-' || g, $1, 'bench ' || g, encode(sha256(($3 || g)::bytea), 'hex'), 'abcd', $2,
            CASE WHEN g % 100 = 0 THEN encode(sha256(($3 || 'old' || g)::bytea), 'hex') END,
            CASE WHEN g % 100 = 0 THEN now() + interval '1 hour' END
       FROM generate_series(1, $4::int) g`,
    [team.id, user.id, seed, KEYS],
  );
  await db.query('VACUUM ANALYZE "ApiKey"');
  const current = Array.from({ length: LOOKUPS }, (_, i) => sha(`${seed}${1 + ((i * 7919) % KEYS)}`));
  const previous = Array.from({ length: LOOKUPS }, (_, i) => sha(`${seed}old${100 * (1 + (i % Math.floor(KEYS / 100)))}`));
  const unknown = Array.from({ length: LOOKUPS }, () => sha(randomBytes(16).toString('hex')));
  const BY_HASH = 'SELECT * FROM "ApiKey" WHERE "hash" = $1 LIMIT 1';
  const EITHER = 'SELECT * FROM "ApiKey" WHERE ("hash" = $1 OR ("previousHash" = $1 AND "previousSecretExpiresAt" > $2)) LIMIT 1';
  const now = () => new Date();
  console.log(`${KEYS} keys, ${KEYS / 100} in an overlap; ${LOOKUPS} lookups each`);
  for (let round = 1; round <= 2; round++) {
    console.log(`round ${round}`);
    console.log(`  by hash only (before), current secret: ${await timeEach(db, BY_HASH, (h) => [h], current)}`);
    console.log(`  hash OR previousHash, current secret:  ${await timeEach(db, EITHER, (h) => [h, now()], current)}`);
    console.log(`  hash OR previousHash, previous secret: ${await timeEach(db, EITHER, (h) => [h, now()], previous)}`);
    console.log(`  hash OR previousHash, unknown hash:    ${await timeEach(db, EITHER, (h) => [h, now()], unknown)}`);
  }
  const plan = await db.query(
    `EXPLAIN ${EITHER.replace('$1', `'${previous[0]}'`).replace('$1', `'${previous[0]}'`).replace('$2', 'now()')}`,
  );
  console.log(plan.rows.map((r) => `  ${r['QUERY PLAN']}`).join('\n'));
  const load = async (sql: string) => {
    const t = process.hrtime.bigint();
    const r = await db.query(sql);
    return `${(Number(process.hrtime.bigint() - t) / 1e6).toFixed(0)} ms (${(r.rows[0].prefixes?.length ?? 0) / 16} hashes)`;
  };
  const OLD_LOAD = `SELECT string_agg(rpad(substr("hash", 1, 16), 16, '-'), '') AS prefixes FROM "ApiKey" WHERE "status" <> 'REVOKED'`;
  const NEW_LOAD = `SELECT string_agg(rpad(substr(h, 1, 16), 16, '-'), '') AS prefixes FROM (
       SELECT "hash" AS h FROM "ApiKey" WHERE "status" <> 'REVOKED'
       UNION ALL
       SELECT "previousHash" FROM "ApiKey"
        WHERE "previousHash" IS NOT NULL AND "previousSecretExpiresAt" > now() AND "status" <> 'REVOKED'
     ) AS live`;
  for (let round = 1; round <= 3; round++) {
    console.log(`index load, round ${round}: before ${await load(OLD_LOAD)}, with previous hashes ${await load(NEW_LOAD)}`);
  }
  await db.end();
}

await main();
