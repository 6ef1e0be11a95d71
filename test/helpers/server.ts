// A real Keyplane server for a test file: port 0, its own PGlite directory, or its own PostgreSQL
// database when DATABASE_URL is set (so test files can run in parallel).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../../src/config.js';
import { type KeyplaneServer, startKeyplane } from '../../src/server.js';

export const onPostgres = Boolean(process.env.DATABASE_URL);

export interface TestServer extends KeyplaneServer {
  adminKey: string;
  dataDir: string;
  databaseUrl?: string;
  /** Stops the server but keeps its data, for restart tests. */
  stop(): Promise<void>;
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

export async function makeTestEnv(env: Record<string, string> = {}) {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'keyplane-test-'));
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
      ...env,
    } as Record<string, string>,
    async cleanup() {
      await database?.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const testEnv = await makeTestEnv(env);
  const server = await startKeyplane(loadConfig({ ...testEnv.env }));
  return {
    ...server,
    adminKey: server.bootstrapKey!,
    dataDir: testEnv.dataDir,
    databaseUrl: testEnv.database?.url,
    stop: () => server.close(),
    async close() {
      await server.close();
      await testEnv.cleanup();
    },
  };
}
