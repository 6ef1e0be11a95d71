// The /scim/v2 gate under load, against GraphQL's request path on the same server and run:
// requests per second and latency of GET /scim/v2/ServiceProviderConfig with a SCIM key (verified
// from the cache, rate limited, the team read per request) and of `{ viewer { keyKind } }` with a
// personal key; and the database reads a kps_ key costs on /graphql (refused from its prefix: 0).
//   npx tsx bench/scim-gate.ts                 (embedded PostgreSQL)
//   DATABASE_URL=postgres://… npx tsx bench/scim-gate.ts
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { loadConfig } from '../src/config.js';
import { startKeyplane } from '../src/server.js';
import { bootstrapTeam } from '../src/teams/bootstrap.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = 10;

async function load(title: string, options: autocannon.Options) {
  const result = await autocannon({ connections: CONNECTIONS, duration: SECONDS, ...options });
  const non2xx = result.non2xx + result.errors;
  console.log(
    `${title}: ${Math.round(result.requests.average)} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, ${non2xx} not 2xx`,
  );
}

async function main() {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'keyplane-bench-'));
  await chmod(dataDir, 0o755);
  const server = await startKeyplane(
    loadConfig({
      ...process.env,
      PORT: '0',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      RATE_LIMIT_PER_MINUTE: '1000000000',
      SCIM_RATE_LIMIT_PER_MINUTE: '1000000000',
      MONTHLY_QUOTA_ENTERPRISE: '1000000000',
      AUTH_FAILURES_PER_MINUTE: '1000000000',
    }),
  );
  const { services } = server;
  try {
    const team = await bootstrapTeam(services.prisma, services.keys, { team: 'scim bench', email: `scim-bench-${Date.now()}@example.com` });
    const admin = await services.auth.authenticate(team!.apiKey);
    if (!admin.ok) throw new Error(admin.message);
    await services.prisma.team.update({ where: { id: team!.teamId }, data: { scimEnabled: true } });
    const { secret } = await services.scimKeys.generate(admin.principal, 'bench');
    const base = server.url.replace(/\/graphql$/, '');

    await new Promise((r) => setTimeout(r, 1_000)); // the settings change's NOTIFY echo has come and gone
    const misses = services.auth.lookups;
    for (let i = 0; i < 1_000; i++) {
      await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': secret },
        body: '{"query":"{ __typename }"}',
      });
    }
    console.log(`kps_ on /graphql: 1000 requests, ${services.auth.lookups - misses} database reads`);

    await load('GET /scim/v2/ServiceProviderConfig (kps_, Bearer)', {
      url: `${base}/scim/v2/ServiceProviderConfig`,
      headers: { authorization: `Bearer ${secret}` },
    });
    await load('POST /graphql { viewer { keyKind } } (kp_)', {
      url: server.url,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': team!.apiKey },
      body: '{"query":"{ viewer { keyKind } }"}',
    });
  } finally {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
