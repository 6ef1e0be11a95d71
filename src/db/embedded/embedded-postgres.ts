// The embedded default database: a real PostgreSQL server that Keyplane starts, watches and
// stops, with its data under DATA_DIR/postgres, on a loopback port chosen at the first start
// and kept in DATA_DIR/embedded-postgres.json (with a password of its own: other users of the
// machine can reach loopback ports). Keyplane talks to it as to any PostgreSQL (adapter-pg).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Logger } from 'pino';
import { acquireDataDirLock, type DataDirLock, DataDirLockedError, type LockHolder } from './data-dir-lock.js';
import { clearLeftover, initdb, isInitialised, type StartedPostgres, startPostgres } from './postgres-process.js';
import { EmbeddedPostgresError, type Runtime, resolveRuntime } from './runtime.js';

export { DataDirLockedError } from './data-dir-lock.js';
export { EmbeddedPostgresError } from './runtime.js';

export interface EmbeddedConnection {
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface EmbeddedPostgres {
  /** postgres://… of the Keyplane database (holds a password: never log it). */
  url: string;
  /** The same server, another database (tests create theirs from a template). */
  urlOf(database: string): string;
  isUp(): boolean;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** PostgreSQL settings over the defaults below (the test run's server turns fsync off). */
  settings?: Record<string, string>;
  /** PostgreSQL died and would not start again: the server stops with this cause. */
  onFatal?: (error: Error) => void;
}

const CONNECTION_FILE = 'embedded-postgres.json';
/** PostgreSQL dying this many times within RESTART_WINDOW_MS is a crash loop: give up. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
const RESTART_DELAYS_MS = [100, 500, 1_000, 2_000, 4_000];

const DEFAULT_SETTINGS: Record<string, string> = {
  listen_addresses: '127.0.0.1',
  // No Unix socket: /tmp is shared, and the loopback port is what every client uses.
  unix_socket_directories: '',
  // Small by default (a key service's working set is small): ~20 MB idle instead of ~26.
  shared_buffers: '32MB',
  max_connections: '100',
  io_method: 'sync',
  logging_collector: 'off', // with it on, readiness is never printed where we read it
};

export const connectionFilePath = (dataDir: string) => path.join(dataDir, CONNECTION_FILE);

/** The embedded server's connection details, once a start has chosen them. */
export async function readEmbeddedConnection(dataDir: string): Promise<EmbeddedConnection | null> {
  try {
    return JSON.parse(await readFile(connectionFilePath(dataDir), 'utf8')) as EmbeddedConnection;
  } catch {
    return null;
  }
}

export function connectionUrl(c: EmbeddedConnection, database = c.database): string {
  return `postgres://${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@127.0.0.1:${c.port}/${encodeURIComponent(database)}`;
}

async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    if (port !== 5432) return port; // a system PostgreSQL may want it later
  }
}

async function saveConnection(dataDir: string, c: EmbeddedConnection) {
  const file = connectionFilePath(dataDir);
  await writeFile(`${file}.tmp`, `${JSON.stringify(c, null, 2)}\n`, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}

/** Refuses a DATA_DIR written by the PGlite releases: this one would start empty beside it. */
function refusePgliteData(dataDir: string) {
  if (!existsSync(path.join(dataDir, 'pglite'))) return;
  throw new EmbeddedPostgresError(
    `DATA_DIR ${dataDir} holds the database of an earlier Keyplane release (${path.join(dataDir, 'pglite')}, ` +
      'PGlite), which this release does not read: it runs a PostgreSQL server under DATA_DIR/postgres instead. ' +
      'Nothing was changed. To keep those teams and keys, run the earlier release on that DATA_DIR and export them ' +
      '(or point DATABASE_URL at a PostgreSQL holding them); to start afresh, move the pglite folder out of ' +
      'DATA_DIR or choose another DATA_DIR.',
  );
}

/**
 * Starts (initialising on the first start) and supervises the embedded server; the caller owns
 * DATA_DIR until stop(). Refuses with DataDirLockedError while another Keyplane server owns it
 * (a CLI command holding it is waited for: it is done within seconds).
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions, holder: LockHolder = 'server'): Promise<EmbeddedPostgres> {
  const { dataDir } = options;
  await mkdir(dataDir, { recursive: true, mode: 0o755 });
  refusePgliteData(dataDir);
  const lock = await lockWaitingForCommands(dataDir, holder);
  try {
    return await startOwned(options, lock);
  } catch (error) {
    await lock.release();
    throw error;
  }
}

async function lockWaitingForCommands(dataDir: string, holder: LockHolder): Promise<DataDirLock> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return await acquireDataDirLock(dataDir, holder);
    } catch (error) {
      if (!(error instanceof DataDirLockedError) || error.holder !== 'cli' || Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

async function startOwned(options: EmbeddedOptions, lock: DataDirLock): Promise<EmbeddedPostgres> {
  const { dataDir, log } = options;
  const runtime = await resolveRuntime(dataDir);
  const pgData = path.join(dataDir, 'postgres');
  let connection = await readEmbeddedConnection(dataDir);
  if (!(await isInitialised(pgData))) {
    // The connection file first: a cluster never exists without the password to reach it.
    connection = { port: await freePort(), user: 'keyplane', password: randomBytes(24).toString('base64url'), database: 'keyplane' };
    await saveConnection(dataDir, connection);
    const began = Date.now();
    await initdb(runtime, pgData, connection.user, connection.password);
    log.info({ ms: Date.now() - began, version: runtime.version }, 'embedded PostgreSQL initialised');
  } else if (!connection) {
    throw new EmbeddedPostgresError(
      `${connectionFilePath(dataDir)} is missing or unreadable, and it holds the only password of the PostgreSQL ` +
        `in ${pgData}. Restore it from a backup of DATA_DIR, or move DATA_DIR/postgres away to start afresh.`,
    );
  }
  const settings = { ...DEFAULT_SETTINGS, ...options.settings };
  let current: EmbeddedConnection = connection;

  const leftover = await clearLeftover(pgData);
  if (leftover)
    log.warn(
      { postgresPid: leftover },
      'stopped a PostgreSQL left running on DATA_DIR by a Keyplane that did not stop it (committed data kept)',
    );

  /** Only the first start of a process may move the port: after that, clients hold the URL. */
  const start = async (mayMovePort: boolean): Promise<StartedPostgres> => {
    try {
      return await startPostgres(runtime, pgData, current.port, settings);
    } catch (error) {
      if (!mayMovePort || !/could not bind|Address already in use/.test(String((error as Error).message))) throw error;
      // Someone else took the port since the last start: choose another one and keep it.
      current = { ...current, port: await freePort() };
      await saveConnection(dataDir, current);
      log.warn({ port: current.port }, 'the embedded PostgreSQL port was taken: moved to another one');
      return startPostgres(runtime, pgData, current.port, settings);
    }
  };

  let server = await start(true);
  try {
    await ensureDatabase(current);
  } catch (error) {
    await server.stop();
    throw error;
  }
  let up = true;
  let stopping = false;
  let restarting: Promise<void> | undefined;
  const deaths: number[] = [];

  const restart = async (dead: StartedPostgres, how: string) => {
    const now = Date.now();
    deaths.push(now);
    while (deaths.length > 0 && deaths[0]! < now - RESTART_WINDOW_MS) deaths.shift();
    log.error({ how, cause: dead.tail.cause() }, 'embedded PostgreSQL stopped unexpectedly: restarting it');
    let lastError: unknown = new EmbeddedPostgresError(`PostgreSQL stopped (${how}):\n${dead.tail.cause()}`);
    if (deaths.length <= MAX_RESTARTS) {
      for (const delay of RESTART_DELAYS_MS) {
        await sleep(delay);
        if (stopping) return;
        try {
          await clearLeftover(pgData);
          server = await start(false);
          if (stopping) return; // stop() stops this one once the restart is over
          up = true;
          log.info({ port: current.port }, 'embedded PostgreSQL restarted');
          supervise(server);
          return;
        } catch (error) {
          lastError = error;
          log.error({ err: error }, 'embedded PostgreSQL would not restart');
        }
      }
    }
    const cause = lastError instanceof Error ? lastError.message : String(lastError);
    options.onFatal?.(new EmbeddedPostgresError(`The embedded PostgreSQL stopped and could not be restarted: ${cause}`));
  };

  const supervise = (watched: StartedPostgres) => {
    void watched.exited.then((how) => {
      if (stopping) return;
      up = false;
      restarting = restart(watched, how).finally(() => (restarting = undefined));
    });
  };
  supervise(server);

  // A Keyplane that crashes (not kill -9) still asks its PostgreSQL to stop.
  const onExit = () => {
    if (server.child.exitCode === null) server.child.kill('SIGINT');
  };
  process.once('exit', onExit);

  return {
    get url() {
      return connectionUrl(current);
    },
    urlOf: (database) => connectionUrl(current, database),
    isUp: () => up,
    async stop() {
      if (stopping) return;
      stopping = true;
      await restarting; // a PostgreSQL being started right now is stopped too, not left behind
      await server.stop();
      process.off('exit', onExit);
      up = false;
      await lock.release();
    },
  };
}

/** The Keyplane database, created on the first start (initdb makes only `postgres`). */
async function ensureDatabase(c: EmbeddedConnection) {
  const client = new pg.Client({ connectionString: connectionUrl(c, 'postgres') });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [c.database]);
    if (!rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(c.database)}`);
  } finally {
    await client.end();
  }
}

/**
 * For the command line: the embedded server of a Keyplane server running on DATA_DIR, or, when
 * none runs, one started for the command and stopped after it.
 */
export async function useEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedPostgres> {
  try {
    return await startEmbeddedPostgres(options, 'cli');
  } catch (error) {
    // Only a server's PostgreSQL is borrowed: another command's is about to stop (and is waited for).
    if (!(error instanceof DataDirLockedError) || error.holder !== 'server') throw error;
  }
  // A server owns it; right after its first start the connection file may be moments away.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const connection = await readEmbeddedConnection(options.dataDir);
    if (connection) {
      const client = new pg.Client({ connectionString: connectionUrl(connection), connectionTimeoutMillis: 3_000 });
      try {
        await client.connect();
        await client.end();
        return {
          url: connectionUrl(connection),
          urlOf: (database) => connectionUrl(connection, database),
          isUp: () => true,
          stop: async () => {},
        };
      } catch (error) {
        await client.end().catch(() => {});
        if (Date.now() > deadline) {
          throw new EmbeddedPostgresError(
            `A Keyplane server owns DATA_DIR ${options.dataDir}, but its PostgreSQL does not answer: ${(error as Error).message}`,
          );
        }
      }
    } else if (Date.now() > deadline) {
      throw new EmbeddedPostgresError(`A Keyplane server owns DATA_DIR ${options.dataDir}, but has not started its PostgreSQL`);
    }
    await sleep(200);
  }
}

export type { Runtime };
