// Opens the configured database, applies migrations, and returns a Prisma client on it: the
// embedded PostgreSQL server that Keyplane runs under DATA_DIR, unless DATABASE_URL names one.
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import type { Logger } from 'pino';
import { PrismaClient } from '../generated/prisma/client.js';
import { type EmbeddedPostgres, startEmbeddedPostgres, useEmbeddedPostgres } from './embedded/embedded-postgres.js';
import { type ChannelHandlers, listenPostgres, type Subscription } from './listener.js';
import { changedMessage, MigrationsPendingError, migrate, migrationStatus, type SqlConnection } from './migrate.js';

/** How long a query waits for a connection before the database counts as unavailable. */
export const CONNECTION_TIMEOUT_MS = 1_500;

/**
 * Prisma ends an interactive transaction after 5 s by default: a revokeApiKeys of 10,000 keys
 * (the documented maximum) took 6.7-7 s here on a loaded 2-core machine and failed with P2028
 * (INTERNAL_SERVER_ERROR) instead of revoking. The largest legitimate transaction must finish.
 */
const TRANSACTION_OPTIONS = { timeout: 30_000 };

export interface Database {
  kind: 'embedded' | 'postgres';
  prisma: PrismaClient;
  ping(): Promise<void>;
  /**
   * NOTIFYs on `channel` from every process on this database, delivered after commit, on a
   * dedicated connection that reconnects by itself (see listener.ts).
   */
  listen(channel: string, handlers: ChannelHandlers): Promise<Subscription>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  dataDir: string;
  databaseUrl?: string;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
  /**
   * 'server' owns DATA_DIR's embedded PostgreSQL (a second server is refused); 'cli' uses the
   * running server's, or starts one for the command when none runs.
   */
  role?: 'server' | 'cli';
  /** The embedded PostgreSQL died and would not restart: the caller must stop. */
  onFatal?: (error: Error) => void;
  /** false (MIGRATE_ON_START=false): pending migrations are refused (MigrationsPendingError), not applied */
  migrateOnStart?: boolean;
  /** wraps the client the services use (tracing: a span per call) */
  extendClient?: (client: PrismaClient) => PrismaClient;
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const location = await locateDatabase(options);
  try {
    return await openPostgres(location, options.migrateOnStart ?? true, options.extendClient);
  } catch (error) {
    await location.release();
    throw error;
  }
}

/** The configured database's server: DATABASE_URL's, or DATA_DIR's embedded one (started per `role`). */
export interface DatabaseLocation {
  kind: Database['kind'];
  /** postgres://… with its password: never log it */
  url: string;
  embedded?: EmbeddedPostgres;
  /** stops an embedded server started for this process (a borrowed one or DATABASE_URL's: nothing) */
  release(): Promise<void>;
}

export async function locateDatabase(options: DatabaseOptions): Promise<DatabaseLocation> {
  if (options.databaseUrl) return { kind: 'postgres', url: options.databaseUrl, release: async () => {} };
  const embeddedOptions = { dataDir: options.dataDir, log: options.log, onFatal: options.onFatal };
  const embedded = options.role === 'cli' ? await useEmbeddedPostgres(embeddedOptions) : await startEmbeddedPostgres(embeddedOptions);
  return { kind: 'embedded', url: embedded.url, embedded, release: () => embedded.stop() };
}

export function postgresConnection(client: pg.ClientBase): SqlConnection {
  return {
    exec: async (script) => void (await client.query(script)),
    query: async <T>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as T[],
  };
}

/** One connection for a short piece of work (migrations, a status read), always ended. */
export async function withPostgresClient<T>(
  databaseUrl: string,
  work: (connection: SqlConnection, client: pg.Client) => Promise<T>,
  timeouts: Pick<pg.ClientConfig, 'connectionTimeoutMillis' | 'query_timeout'> = {},
): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl, ...timeouts });
  // An idle client dropped by the server emits 'error': without a listener it would crash the process.
  client.on('error', () => {});
  try {
    await client.connect();
    return await work(postgresConnection(client), client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Applies the migrations to the database at `databaseUrl` (under an advisory lock). */
export function migrateDatabase(databaseUrl: string): Promise<string[]> {
  return withPostgresClient(databaseUrl, (connection) => migrate(connection, { advisoryLock: true }));
}

/** MIGRATE_ON_START=false: the schema must already be this release's (`keyplane migrate` ran). */
async function refuseUnmigrated(databaseUrl: string): Promise<void> {
  const status = await withPostgresClient(databaseUrl, (connection) => migrationStatus(connection));
  const [changed] = status.changed;
  if (changed) throw new Error(changedMessage(changed));
  if (status.pending.length > 0) throw new MigrationsPendingError(status.pending);
}

async function openPostgres(
  { url: databaseUrl, kind, embedded }: DatabaseLocation,
  migrateOnStart: boolean,
  extendClient: (client: PrismaClient) => PrismaClient = (client) => client,
): Promise<Database> {
  if (migrateOnStart) await migrateDatabase(databaseUrl);
  else await refuseUnmigrated(databaseUrl);
  // A request never waits long on a database that does not answer: a connection (or a free pool
  // slot) not had within this time fails, and becomes a coded 503 (outage.ts). The adapter listens
  // for 'error' on idle pool clients (a restart ends them: 57P01), so they do not crash the process.
  const prisma = extendClient(
    new PrismaClient({
      adapter: new PrismaPg({ connectionString: databaseUrl, connectionTimeoutMillis: CONNECTION_TIMEOUT_MS }),
      transactionOptions: TRANSACTION_OPTIONS,
    }),
  );
  return {
    kind,
    prisma,
    async ping() {
      // The embedded server is known down the moment it exits: no query to wait for.
      if (embedded && !embedded.isUp()) throw new Error('the embedded PostgreSQL is restarting');
      await prisma.$queryRaw`SELECT 1`;
    },
    listen: async (channel, handlers) => listenPostgres(databaseUrl, channel, handlers),
    async close() {
      await prisma.$disconnect();
      await embedded?.stop();
    },
  };
}
