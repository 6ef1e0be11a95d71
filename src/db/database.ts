// Opens the configured database, applies migrations, and returns a Prisma client on it:
// PGlite (embedded, one process owns DATA_DIR) unless DATABASE_URL selects PostgreSQL.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from '../generated/prisma/client.js';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.js';
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
  kind: 'pglite' | 'postgres';
  prisma: PrismaClient;
  ping(): Promise<void>;
  /**
   * NOTIFYs on `channel` from every process on this database, delivered after commit. PGlite:
   * in-process, during the committing statement (one process owns the data); PostgreSQL: a
   * dedicated connection that reconnects by itself (see listener.ts).
   */
  listen(channel: string, handlers: ChannelHandlers): Promise<Subscription>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  dataDir: string;
  databaseUrl?: string;
  /** The CLI refuses instead of waiting when a live server holds the directory. */
  lockWaitMs?: number;
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  return options.databaseUrl
    ? openPostgres(options.databaseUrl)
    : openPglite(options.dataDir, options.lockWaitMs);
}

export function pgliteConnection(db: PGlite): SqlConnection {
  return {
    exec: async (script) => void (await db.exec(script)),
    query: async <T>(sql: string, params?: unknown[]) => (await db.query<T>(sql, params)).rows,
  };
}

export function postgresConnection(client: pg.ClientBase): SqlConnection {
  return {
    exec: async (script) => void (await client.query(script)),
    query: async <T>(sql: string, params?: unknown[]) =>
      (await client.query(sql, params)).rows as T[],
  };
}

async function openPglite(dataDir: string, lockWaitMs?: number): Promise<Database> {
  await mkdir(dataDir, { recursive: true });
  const lock: DataDirLock = await acquireDataDirLock(dataDir, lockWaitMs);
  let pglite: PGlite | undefined;
  try {
    pglite = await PGlite.create({ dataDir: path.join(dataDir, 'pglite') });
    await migrate(pgliteConnection(pglite), { advisoryLock: false });
  } catch (error) {
    await pglite?.close();
    await lock.release();
    throw error;
  }
  const db = pglite;
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(db), transactionOptions: TRANSACTION_OPTIONS });
  return {
    kind: 'pglite',
    prisma,
    ping: async () => void (await db.query('SELECT 1')),
    async listen(channel, handlers) {
      const unlisten = await db.listen(channel, handlers.payload);
      handlers.state('up');
      return { close: async () => void (db.closed ? undefined : await unlisten()) };
    },
    async close() {
      await prisma.$disconnect();
      if (!db.closed) await db.close();
      await lock.release();
    },
  };
}

async function openPostgres(databaseUrl: string): Promise<Database> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await migrate(postgresConnection(client), { advisoryLock: true });
  } finally {
    await client.end();
  }
  // A request never waits long on a database that does not answer: a connection (or a free pool
  // slot) not had within this time fails, and becomes a coded 503 (outage.ts). The adapter listens
  // for 'error' on idle pool clients (a restart ends them: 57P01), so they do not crash the process.
  const prisma = new PrismaClient({
    adapter: new PrismaPg({ connectionString: databaseUrl, connectionTimeoutMillis: CONNECTION_TIMEOUT_MS }),
    transactionOptions: TRANSACTION_OPTIONS,
  });
  return {
    kind: 'postgres',
    prisma,
    ping: async () => void (await prisma.$queryRaw`SELECT 1`),
    listen: async (channel, handlers) => listenPostgres(databaseUrl, channel, handlers),
    close: () => prisma.$disconnect(),
  };
}
