// A real Keyplane server for a test file: port 0, its own database on the run's PostgreSQL
// server (the embedded one that global-setup started, or DATABASE_URL's), copied from the
// migrated template, so test files run in parallel.
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type KeyplaneServer, startKeyplane } from '../../src/server.js';
import { viewerTeamId } from './fixtures.js';

/** The CI pass on the machine's PostgreSQL (otherwise: the embedded server of the test run). */
export const onExternalPostgres = Boolean(process.env.DATABASE_URL);
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

function serverUrl(database: string): string {
  const url = new URL(inject('postgresUrl'));
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * A database of its own on the test run's PostgreSQL server: migrated (a copy of the template),
 * or empty (`fresh`, as a first start sees it).
 */
export async function createPostgresDatabase(options: { fresh?: boolean } = {}): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `kp_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: inject('postgresUrl') });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${options.fresh ? 'template0' : inject('templateDatabase')}`);
  } finally {
    await admin.end();
  }
  return {
    url: serverUrl(name),
    async drop() {
      await assertNoSecretInAudit(serverUrl(name));
      const c = new pg.Client({ connectionString: inject('postgresUrl') });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Anything shaped like a key (kp_, kpc_, kps_) or an invitation token. */
const SECRET_IN_TEXT = 'kp[a-z]{0,3}_[0-9A-Za-z]{36}|kpinv_[0-9A-Za-z_-]{8,}';

/**
 * SPEC §5: no secret in any audit event. Checked on every test database before it is dropped, so
 * the whole suite's events are scanned, whatever each file did: a file whose events hold one fails.
 */
async function assertNoSecretInAudit(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query(
      `SELECT count(*)::int AS n FROM "AuditEvent" e
        WHERE concat_ws(' ', e."summary", e."actorKeyHint", e."targetId", e."userAgent", e."address") ~ $1`,
      [SECRET_IN_TEXT],
    );
    if (rows[0].n > 0) throw new Error(`${rows[0].n} audit event(s) hold something shaped like a key or an invitation token`);
  } catch (error) {
    // A fresh (unmigrated) database has no audit table: nothing to scan.
    if ((error as { code?: string }).code !== '42P01') throw error;
  } finally {
    await c.end();
  }
}

/** A temporary DATA_DIR that the embedded PostgreSQL's system user can reach (mkdtemp is 0700). */
export async function makeDataDir(): Promise<string> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'keyplane-test-'));
  await chmod(dataDir, 0o755);
  return dataDir;
}

/** `fresh`: an empty database, as on a first start (no copy of the migrated template). */
export async function makeTestEnv(env: Record<string, string> = {}, options: { fresh?: boolean } = {}) {
  const dataDir = await makeDataDir();
  const database = await createPostgresDatabase(options);
  return {
    dataDir,
    database,
    env: {
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      DATABASE_URL: database.url,
      // Shared Redis, but counters of their own: each server gets its own key prefix.
      ...(onRedis ? { REDIS_URL: process.env.REDIS_URL!, REDIS_KEY_PREFIX: `kpt${randomBytes(4).toString('hex')}` } : {}),
      ...env,
    } as Record<string, string>,
    async cleanup() {
      await database.drop();
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
    databaseUrl: testEnv.database.url,
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

/**
 * Waits until the server has loaded its index of live keys (once it has, it follows key changes
 * made by any process): until then a blocked address's guesses still cost a read (SPEC §4), and
 * a test that measures reads starts from a server that is warm, not from one that is starting.
 */
export async function keyChangesFollowed(server: KeyplaneServer): Promise<void> {
  for (let i = 0; !server.services.auth.index.loaded; i++) {
    if (i > 400) throw new Error('the key index did not load within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A test server as `useTestServer` hands it out: `teamId` is the bootstrap team's, `adminKey`'s. */
export interface ScopedTestServer extends TestServer {
  readonly teamId: string;
  /** Restarts on the same data; this object then stands for the new server. */
  restart(): Promise<ScopedTestServer>;
}

/**
 * The server of the calling scope (a test file, or the `describe` it is called in): started in
 * `beforeAll` (its key index loaded, its admin key verified once), closed in `afterAll`. Each
 * scope has its own server and database, so files still run in parallel. The returned object
 * stands for the running server: read it inside hooks and tests (before `beforeAll` has run there
 * is no server yet, and reading it throws). `env` may be a function, for settings known only in
 * `beforeAll` (a free port).
 */
export function useTestServer(
  env: Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>) = {},
): ScopedTestServer {
  let current: (TestServer & { teamId: string }) | undefined;
  const running = () => {
    if (!current) throw new Error('useTestServer: no server yet (it starts in beforeAll; read it inside hooks and tests)');
    return current;
  };
  beforeAll(async () => {
    const server = Object.assign(await startTestServer(typeof env === 'function' ? await env() : env), { teamId: '' });
    current = server; // closed by afterAll even if what follows fails
    await keyChangesFollowed(server);
    // Verifying the admin key also caches it, as its first request would: tests start warm.
    server.teamId = await viewerTeamId(server, server.adminKey);
  });
  afterAll(async () => {
    await current?.close();
    current = undefined;
  });
  // A stand-in rather than the object itself: the server exists only once beforeAll has run, and
  // restart() swaps it for a new one while the tests keep their reference.
  const scoped: ScopedTestServer = new Proxy({} as ScopedTestServer, {
    get(_, property) {
      const server = running();
      if (property !== 'restart') return Reflect.get(server, property);
      return async () => {
        current = Object.assign(await server.restart(), { teamId: server.teamId });
        return scoped;
      };
    },
    has: (_, property) => Reflect.has(running(), property),
    ownKeys: () => Reflect.ownKeys(running()),
    getOwnPropertyDescriptor: (_, property) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(running(), property);
      // A proxy may not report a property as non-configurable that its (empty) target lacks.
      return descriptor && { ...descriptor, configurable: true };
    },
  });
  return scoped;
}
