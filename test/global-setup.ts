// Once per test run: the PostgreSQL server the in-process tests use, and a migrated template
// database on it. Each test file creates its databases from the template (CREATE DATABASE …
// TEMPLATE: ~0.1 s instead of migrating). The server is Keyplane's own embedded PostgreSQL
// (started here, in a temporary DATA_DIR) unless DATABASE_URL names one (CI's second pass).
// Tests that start Keyplane as a process with a DATA_DIR of their own exercise the embedded
// server's start, restart and recovery themselves.
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrateDatabase } from '../src/db/database.js';
import { startEmbeddedPostgres } from '../src/db/embedded/embedded-postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** An administrative URL of the run's PostgreSQL server (any database name replaced). */
    postgresUrl: string;
    /** The migrated database that test databases are copied from. */
    templateDatabase: string;
  }
}

const silent = { info() {}, warn() {}, error: (...args: unknown[]) => console.error(...args) };

export default async function setup(project: TestProject) {
  let serverUrl: string;
  let stopServer = async () => {};
  if (process.env.DATABASE_URL) {
    serverUrl = process.env.DATABASE_URL;
  } else {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'keyplane-test-pg-'));
    await chmod(dataDir, 0o755); // as root, PostgreSQL runs as `postgres` and must reach it
    const embedded = await startEmbeddedPostgres({
      dataDir,
      log: silent,
      // A throwaway server: durability off; room for every worker's servers and pools.
      settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '500', shared_buffers: '128MB' },
    });
    serverUrl = embedded.url;
    stopServer = async () => {
      await embedded.stop();
      await rm(dataDir, { recursive: true, force: true });
    };
  }
  const template = `kp_template_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${template}`);
  const templateUrl = new URL(serverUrl);
  templateUrl.pathname = `/${template}`;
  await migrateDatabase(templateUrl.toString());
  project.provide('postgresUrl', serverUrl);
  project.provide('templateDatabase', template);
  return async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`).catch(() => {});
    await admin.end();
    await stopServer();
  };
}
