// Per-request authentication cost: cache hit vs cache miss (one indexed read), in µs, against the
// baseline of parse + checksum alone, all measured in this run. Also: after deleteApiKey returns,
// how many requests with the old key still succeed on the same instance (must be 0).
//   npm run bench:auth                 (embedded PGlite)
//   DATABASE_URL=postgres://… npm run bench:auth
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config.js';
import { parseKey } from '../src/keys/format.js';
import { startKeyplane } from '../src/server.js';
import { bootstrapTeam } from '../src/teams/bootstrap.js';

const KEYS = 2_000;
const HIT_ROUNDS = 20;

function µs(ns: bigint, n: number) {
  return Number(ns) / 1000 / n;
}

async function main() {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'keyplane-bench-'));
  await chmod(dataDir, 0o755); // the embedded PostgreSQL runs as `postgres` when we are root
  const server = await startKeyplane(loadConfig({ ...process.env, PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'silent' }));
  const { services } = server;
  try {
    // A team of its own, so that the bench also runs on a database that is already in use.
    const team = await bootstrapTeam(services.prisma, services.keys, { team: 'bench', email: `bench-${Date.now()}@example.com` });
    const admin = await services.auth.authenticate(team!.apiKey);
    if (!admin.ok) throw new Error(admin.message);
    const owner = { userId: admin.principal.userId, teamId: admin.principal.teamId };
    const secrets: string[] = [];
    for (let i = 0; i < KEYS; i++) secrets.push((await services.keys.issuePersonalKey(owner, { name: `bench ${i}` })).secret);

    // Baseline: shape + checksum only (what every request pays before any lookup).
    let t = process.hrtime.bigint();
    for (let r = 0; r < HIT_ROUNDS; r++) for (const s of secrets) parseKey(s);
    const parseNs = process.hrtime.bigint() - t;

    // Misses: every key once, from an empty cache (one indexed read each).
    services.auth.forgetAll();
    t = process.hrtime.bigint();
    for (const s of secrets) await services.auth.authenticate(s);
    const missNs = process.hrtime.bigint() - t;

    // Hits: the same keys again, now cached.
    t = process.hrtime.bigint();
    for (let r = 0; r < HIT_ROUNDS; r++) for (const s of secrets) await services.auth.authenticate(s);
    const hitNs = process.hrtime.bigint() - t;

    const parse = µs(parseNs, KEYS * HIT_ROUNDS);
    const hit = µs(hitNs, KEYS * HIT_ROUNDS);
    const miss = µs(missNs, KEYS);

    // deleteApiKey → the old key's next request, over HTTP on the same instance.
    const trials = 50;
    let acceptedAfterDelete = 0;
    for (let i = 0; i < trials; i++) {
      const { apiKey, secret } = await services.keys.issuePersonalKey(owner, { name: `delete ${i}` });
      const call = (key: string, query: string, variables = {}) =>
        fetch(server.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': key },
          body: JSON.stringify({ query, variables }),
        });
      await call(secret, '{ viewer { keyKind } }'); // now cached as verified
      await call(secret, 'mutation($id: ID!) { deleteApiKey(id: $id) { id } }', { id: apiKey.id });
      if ((await call(secret, '{ viewer { keyKind } }')).status !== 401) acceptedAfterDelete += 1;
    }

    console.log(`database: ${services.db.kind}; ${KEYS} keys`);
    console.log(`parse + checksum (baseline): ${parse.toFixed(2)} µs/request`);
    console.log(`cache hit:                   ${hit.toFixed(2)} µs/request  (${(hit / parse).toFixed(1)}× baseline)`);
    console.log(`cache miss (indexed read):   ${miss.toFixed(1)} µs/request  (${(miss / hit).toFixed(0)}× a hit)`);
    console.log(`requests accepted with a deleted key, next request after deleteApiKey returned: ${acceptedAfterDelete} of ${trials}`);
  } finally {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
