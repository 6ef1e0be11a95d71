// Keyplane for `npm run bench:fanout`: a team with N admins (one key each) and victim keys to
// revoke, seeded through the real services. Prints one JSON line: url, the admins' keys, a key to
// revoke with, and the victims' ids. Embedded PGlite, or a fresh PostgreSQL database of its own
// when DATABASE_URL is set (dropped on SIGTERM).
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { mintKey } from '../src/keys/service.js';
import { startKeyplane } from '../src/server.js';

const SUBSCRIBERS = Number(process.env.FANOUT_SUBSCRIBERS ?? 1_000);
const VICTIMS = Number(process.env.FANOUT_EVENTS ?? 20);

const dataDir = await mkdtemp(path.join(tmpdir(), 'keyplane-fanout-'));

await chmod(dataDir, 0o755); // the embedded PostgreSQL runs as `postgres` when we are root
let databaseUrl: string | undefined;
let dropDatabase = async () => {};
if (process.env.DATABASE_URL) {
  const name = `kp_fanout_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(process.env.DATABASE_URL);
  url.pathname = `/${name}`;
  databaseUrl = url.toString();
  dropDatabase = async () => {
    const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  };
}

const server = await startKeyplane(
  loadConfig({
    ...process.env,
    PORT: '0',
    DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_MINUTE: '1000000',
    MONTHLY_QUOTA_ENTERPRISE: '100000000',
  }),
);
const { prisma } = server.services;
const boot = await server.services.auth.authenticate(server.bootstrapKey!);
if (!boot.ok) throw new Error(boot.message);
const teamId = boot.principal.teamId;

await prisma.user.createMany({
  data: Array.from({ length: SUBSCRIBERS }, (_, i) => ({
    teamId,
    email: `admin${i}@bench.local`,
    name: `Admin ${i}`,
    role: 'TEAM_ADMIN' as const,
  })),
});
const admins = await prisma.user.findMany({ where: { teamId, email: { endsWith: '@bench.local' } }, select: { id: true } });
const adminKeys = admins.map((admin) => ({ admin, material: mintKey('PERSONAL') }));
const victims = Array.from({ length: VICTIMS }, (_, i) => ({ i, material: mintKey('PERSONAL') }));
await prisma.apiKey.createMany({
  data: [
    ...adminKeys.map(({ admin, material }) => ({
      teamId,
      name: 'bench admin',
      hash: material.hash,
      hint: material.hint,
      createdById: admin.id,
    })),
    ...victims.map(({ i, material }) => ({
      teamId,
      name: `victim ${i}`,
      hash: material.hash,
      hint: material.hint,
      createdById: boot.principal.userId,
    })),
  ],
});
const victimIds = (await prisma.apiKey.findMany({ where: { teamId, name: { startsWith: 'victim ' } }, select: { id: true } })).map(
  (k) => k.id,
);

console.log(
  JSON.stringify({ url: server.url, adminKeys: adminKeys.map((k) => k.material.secret), revokerKey: server.bootstrapKey, victimIds }),
);

process.on('SIGTERM', async () => {
  await server.close();
  await dropDatabase();
  await rm(dataDir, { recursive: true, force: true });
  process.exit(0);
});
