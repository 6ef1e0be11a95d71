// `npx tsx bench/webhook-bulk.ts`: what webhooks add to a bulk revocation (issue 19: "a bulk
// revocation of 10,000 keys produces deliveries without holding its transaction longer than the
// revocation itself"). revokeApiKeys of 10,000 keys over HTTP, alternating rounds: the team with
// no endpoint, with one endpoint subscribed to api_key.revoked, and with three. Each round revokes
// fresh keys. The endpoints' URL is a closed port on 127.0.0.1: posting happens after commit, in
// the dispatcher, and is not part of what the mutation waits for.
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx bench/webhook-bulk.ts
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { mintKey } from '../src/keys/service.js';
import { startKeyplane } from '../src/server.js';

const KEYS = Number(process.env.BENCH_KEYS ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

const base = process.env.DATABASE_URL;
if (!base?.startsWith('postgres')) throw new Error('set DATABASE_URL to a PostgreSQL server');
const dbUrl = new URL(base);
dbUrl.pathname = `/kp_webhook_bulk_${Date.now()}`;
const admin0 = new pg.Client({ connectionString: base });
await admin0.connect();
await admin0.query(`CREATE DATABASE "${dbUrl.pathname.slice(1)}"`);
const dataDir = await mkdtemp(path.join(tmpdir(), 'keyplane-bench-'));
const server = await startKeyplane(
  loadConfig({ PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'warn', DATABASE_URL: dbUrl.href, RATE_LIMIT_PER_MINUTE: '100000' }),
);
const { prisma, secretBox } = server.services;
const admin = await prisma.apiKey.findFirstOrThrow({ where: { kind: 'PERSONAL' }, select: { teamId: true, createdById: true } });

async function mint(n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 2_000) {
    const rows = Array.from({ length: Math.min(2_000, n - i) }, (_, j) => {
      const m = mintKey('PERSONAL', server.services.config.keyPepper);
      return {
        id: randomUUID(),
        teamId: admin.teamId,
        kind: 'PERSONAL' as const,
        name: `bulk ${i + j}`,
        hash: m.hash,
        hint: m.hint,
        createdById: admin.createdById,
      };
    });
    await prisma.apiKey.createMany({ data: rows });
    ids.push(...rows.map((r) => r.id));
  }
  return ids;
}

async function setEndpoints(count: number) {
  await prisma.webhookEndpoint.deleteMany({ where: { teamId: admin.teamId } });
  for (let i = 0; i < count; i++) {
    const id = randomUUID();
    await prisma.webhookEndpoint.create({
      data: {
        id,
        teamId: admin.teamId,
        url: 'http://127.0.0.1:9/never',
        eventTypes: ['api_key.revoked'],
        secretSealed: secretBox.seal('whsec_bench', id),
        createdById: admin.createdById,
      },
    });
  }
}

const adminKey = server.bootstrapKey!;
async function revoke(ids: string[]): Promise<number> {
  const started = performance.now();
  const res = await fetch(new URL('/graphql', server.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': adminKey },
    body: JSON.stringify({ query: 'mutation($ids: [ID!]!) { revokeApiKeys(ids: $ids) { revokedCount } }', variables: { ids } }),
  });
  const body = (await res.json()) as { data?: { revokeApiKeys: { revokedCount: number } }; errors?: unknown };
  const ms = performance.now() - started;
  if (body.data?.revokeApiKeys.revokedCount !== ids.length) throw new Error(`invalid run: ${JSON.stringify(body).slice(0, 300)}`);
  return ms;
}

const variants = [0, 1, 3];
const times = new Map<number, number[]>(variants.map((v) => [v, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const endpoints of variants) {
    await setEndpoints(endpoints);
    const ids = await mint(KEYS);
    const ms = await revoke(ids);
    // After commit: the events rendered and their deliveries written (the mutation did not wait).
    const rendering = performance.now();
    while ((await prisma.webhookOutbox.count()) > 0) await new Promise((r) => setTimeout(r, 20));
    await server.services.webhookEvents.idle();
    const renderMs = performance.now() - rendering;
    const deliveries = await prisma.webhookDelivery.count({ where: { teamId: admin.teamId } });
    if (deliveries !== KEYS * endpoints) throw new Error(`invalid run: ${deliveries} deliveries for ${endpoints} endpoint(s)`);
    times.get(endpoints)!.push(ms);
    console.log(
      `round ${round + 1}: ${endpoints} endpoint(s): revokeApiKeys ${ms.toFixed(0)} ms; then ${deliveries} deliveries rendered in ${renderMs.toFixed(0)} ms`,
    );
    await prisma.webhookEvent.deleteMany({});
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const without = median(times.get(0)!);
for (const v of variants) {
  console.log(
    `${v} endpoint(s): median ${median(times.get(v)!).toFixed(0)} ms = ${(median(times.get(v)!) / without).toFixed(2)}× the revocation without webhooks`,
  );
}
await server.close();
await admin0.query(`DROP DATABASE "${dbUrl.pathname.slice(1)}" WITH (FORCE)`);
await admin0.end();
await rm(dataDir, { recursive: true, force: true });
