// Applies prisma/migrations in order at start, each in one transaction, recorded in Prisma's own
// _prisma_migrations table (same checksums), so `prisma migrate status` agrees with us.
// On PostgreSQL it holds Prisma's advisory lock, so instances starting together apply each
// migration once. The Prisma CLI is not needed at run time (see NOTES: its PostgreSQL adapter
// needs three fixes under migrate, and it costs seconds per start).
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../prisma/migrations', import.meta.url));
const PRISMA_ADVISORY_LOCK = 72707369; // the key `prisma migrate deploy` locks too

/** The little a migration needs of a connection: multi-statement scripts and parameterised reads. */
export interface SqlConnection {
  exec(script: string): Promise<void>;
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
}

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export async function readMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(path.join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

const CREATE_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

export interface MigrateOptions {
  /** Take the cross-process advisory lock (several instances may start at once). */
  advisoryLock: boolean;
  migrations?: Migration[];
}

/** Name → checksum of the migrations recorded as applied (none when the table does not exist yet). */
async function appliedMigrations(conn: SqlConnection): Promise<Map<string, string>> {
  const [table] = await conn.query<{ exists: boolean }>(`SELECT to_regclass('"_prisma_migrations"') IS NOT NULL AS exists`);
  if (!table?.exists) return new Map();
  const rows = await conn.query<{ migration_name: string; checksum: string }>(
    `SELECT migration_name, checksum FROM "_prisma_migrations"
      WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
  );
  return new Map(rows.map((r) => [r.migration_name, r.checksum]));
}

export interface MigrationStatus {
  applied: string[];
  pending: string[];
  /** applied, then edited in prisma/migrations: the server refuses to start */
  changed: string[];
  /** recorded as applied but not in this release's prisma/migrations (a newer release migrated it) */
  unknown: string[];
}

/** What `migrate` would do, read without changing anything (no lock, no table created). */
export async function migrationStatus(conn: SqlConnection, migrations?: Migration[]): Promise<MigrationStatus> {
  const known = migrations ?? (await readMigrations());
  const applied = await appliedMigrations(conn);
  const status: MigrationStatus = { applied: [], pending: [], changed: [], unknown: [] };
  for (const migration of known) {
    const checksum = applied.get(migration.name);
    if (checksum === undefined) status.pending.push(migration.name);
    else if (checksum !== migration.checksum) status.changed.push(migration.name);
    else status.applied.push(migration.name);
  }
  const names = new Set(known.map((m) => m.name));
  status.unknown = [...applied.keys()].filter((name) => !names.has(name)).sort();
  return status;
}

/** MIGRATE_ON_START=false and the schema is behind this release: the server must not run on it. */
export class MigrationsPendingError extends Error {
  constructor(readonly pending: string[]) {
    super(
      `MIGRATE_ON_START is false and ${pending.length} database migration${pending.length === 1 ? ' is' : 's are'} pending ` +
        `(${listNames(pending)}): run \`npx keyplane migrate\` with the same configuration, then start the server again.`,
    );
  }
}

/** A few names, then how many more: a message stays one line. */
export function listNames(names: string[], shown = 3): string {
  const head = names.slice(0, shown).join(', ');
  return names.length > shown ? `${head} and ${names.length - shown} more` : head;
}

export const changedMessage = (name: string) => `migration ${name} was changed after it was applied`;

/** Returns the names of the migrations it applied. */
export async function migrate(conn: SqlConnection, options: MigrateOptions): Promise<string[]> {
  const migrations = options.migrations ?? (await readMigrations());
  if (options.advisoryLock) await conn.query(`SELECT pg_advisory_lock(${PRISMA_ADVISORY_LOCK})`);
  try {
    await conn.exec(CREATE_TABLE);
    const applied = await appliedMigrations(conn);
    const done: string[] = [];
    for (const migration of migrations) {
      const checksum = applied.get(migration.name);
      if (checksum !== undefined) {
        if (checksum !== migration.checksum) {
          throw new Error(changedMessage(migration.name));
        }
        continue;
      }
      await conn.exec('BEGIN');
      try {
        await conn.exec(migration.sql);
        await conn.query(
          `INSERT INTO "_prisma_migrations"
             (id, checksum, finished_at, migration_name, started_at, applied_steps_count)
           VALUES ($1, $2, now(), $3, now(), 1)`,
          [randomUUID(), migration.checksum, migration.name],
        );
        await conn.exec('COMMIT');
      } catch (error) {
        await conn.exec('ROLLBACK');
        throw new Error(`migration ${migration.name} failed: ${(error as Error).message}`, { cause: error });
      }
      done.push(migration.name);
    }
    return done;
  } finally {
    if (options.advisoryLock) await conn.query(`SELECT pg_advisory_unlock(${PRISMA_ADVISORY_LOCK})`);
  }
}
