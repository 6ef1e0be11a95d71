// A real Keyplane server for a test file: port 0, its own PGlite directory, or its own PostgreSQL
// database when DATABASE_URL is set (so test files can run in parallel).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type KeyplaneServer, startKeyplane } from '../../src/server.js';

export const onPostgres = Boolean(process.env.DATABASE_URL);
export const onRedis = Boolean(process.env.REDIS_URL);

export interface TestServer extends KeyplaneServer {
  adminKey: string;
  dataDir: string;
  databaseUrl?: string;
  /** The environment it was started with. */
  env: Record<string, string>;
  /** Stops it cleanly and starts a new server on the same data (the old object is done). */
  restart(): Promise<TestServer>;
}

/** A database of its own on the PostgreSQL server that DATABASE_URL names. */
export async function createPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = new URL(process.env.DATABASE_URL!);
  const name = `kp_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base.toString() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: base.toString() });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** `fresh`: an empty data directory, as on a first start (no copy of the migrated template). */
export async function makeTestEnv(env: Record<string, string> = {}, options: { fresh?: boolean } = {}) {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'keyplane-test-'));
  const template = inject('pgliteTemplate');
  if (template && !onPostgres && !options.fresh) {
    // cp -a takes ~0.2 s where initdb takes 5–7 s (and node's fs.cp ~2 s).
    execFileSync('cp', ['-a', template, path.join(dataDir, 'pglite')]);
  }
  const database = onPostgres ? await createPostgresDatabase() : undefined;
  return {
    dataDir,
    database,
    env: {
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      ...(database ? { DATABASE_URL: database.url } : {}),
      // Shared Redis, but counters of their own: each server gets its own key prefix.
      ...(onRedis ? { REDIS_URL: process.env.REDIS_URL!, REDIS_KEY_PREFIX: `kpt${randomBytes(4).toString('hex')}` } : {}),
      ...env,
    } as Record<string, string>,
    async cleanup() {
      await database?.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  return serve(await makeTestEnv(env), null);
}

async function serve(testEnv: Awaited<ReturnType<typeof makeTestEnv>>, adminKey: string | null): Promise<TestServer> {
  const server = await startKeyplane(loadConfig({ ...testEnv.env }));
  const key = adminKey ?? server.bootstrapKey!;
  return {
    ...server,
    adminKey: key,
    dataDir: testEnv.dataDir,
    databaseUrl: testEnv.database?.url,
    env: testEnv.env,
    async restart() {
      await server.close();
      return serve(testEnv, key);
    },
    async close() {
      await server.close();
      await testEnv.cleanup();
    },
  };
}
