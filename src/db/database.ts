// Opens the configured database, applies migrations, and returns a Prisma client on it: the
// embedded PostgreSQL server that Keyplane runs under DATA_DIR, unless DATABASE_URL names one.
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import type { Logger } from 'pino';
import { PrismaClient } from '../generated/prisma/client.js';
import { type EmbeddedPostgres, startEmbeddedPostgres, useEmbeddedPostgres } from './embedded/embedded-postgres.js';
import { type ChannelHandlers, listenPostgres, type Subscription } from './listener.js';
import { migrate, type SqlConnection } from './migrate.js';

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
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) return openPostgres(options.databaseUrl, 'postgres');
  const embeddedOptions = { dataDir: options.dataDir, log: options.log, onFatal: options.onFatal };
  const embedded = options.role === 'cli' ? await useEmbeddedPostgres(embeddedOptions) : await startEmbeddedPostgres(embeddedOptions);
  try {
    return await openPostgres(embedded.url, 'embedded', embedded);
  } catch (error) {
    await embedded.stop();
    throw error;
  }
}

export function postgresConnection(client: pg.ClientBase): SqlConnection {
  return {
    exec: async (script) => void (await client.query(script)),
    query: async <T>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as T[],
  };
}

/** Applies the migrations to the database at `databaseUrl` (under an advisory lock). */
export async function migrateDatabase(databaseUrl: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await migrate(postgresConnection(client), { advisoryLock: true });
  } finally {
    await client.end();
  }
}

async function openPostgres(databaseUrl: string, kind: Database['kind'], embedded?: EmbeddedPostgres): Promise<Database> {
  await migrateDatabase(databaseUrl);
  // A request never waits long on a database that does not answer: a connection (or a free pool
  // slot) not had within this time fails, and becomes a coded 503 (outage.ts). The adapter listens
  // for 'error' on idle pool clients (a restart ends them: 57P01), so they do not crash the process.
  const prisma = new PrismaClient({
    adapter: new PrismaPg({ connectionString: databaseUrl, connectionTimeoutMillis: CONNECTION_TIMEOUT_MS }),
    transactionOptions: TRANSACTION_OPTIONS,
  });
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
