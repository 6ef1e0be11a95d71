// The migration runner on PostgreSQL: multi-statement scripts,
// one transaction per migration (a broken one leaves nothing behind), idempotent re-runs,
// tampering detected, and concurrent runners on PostgreSQL applying each migration once.
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresConnection } from '../../src/db/database.js';
import { type Migration, migrate, readMigrations, type SqlConnection } from '../../src/db/migrate.js';
import { createPostgresDatabase } from '../helpers/server.js';

const m = (name: string, sql: string): Migration => ({ name, sql, checksum: `sum-of-${sql.length}-${name}` });

const multiStatement = m(
  '20990101000000_multi',
  `CREATE TABLE "Widget" ("id" TEXT PRIMARY KEY, "n" INTEGER NOT NULL);
   CREATE INDEX "Widget_n_idx" ON "Widget" ("n");
   INSERT INTO "Widget" VALUES ('a', 1), ('b', 2);
   -- a comment; with a semicolon
   UPDATE "Widget" SET "n" = "n" * 10;`,
);
const broken = m(
  '20990102000000_broken',
  `CREATE TABLE "Gadget" ("id" TEXT PRIMARY KEY);
   INSERT INTO "Gadget" VALUES ('x');
   SELECT * FROM "no_such_table";`,
);

async function exercise(conn: SqlConnection, advisoryLock: boolean) {
  const real = await readMigrations();
  expect(real.length).toBeGreaterThan(0);

  expect(await migrate(conn, { advisoryLock, migrations: [...real, multiStatement] })).toEqual([
    ...real.map((x) => x.name),
    multiStatement.name,
  ]);
  expect(await conn.query('SELECT id, n FROM "Widget" ORDER BY id')).toEqual([
    { id: 'a', n: 10 },
    { id: 'b', n: 20 },
  ]);
  // Applied once: a second run does nothing.
  expect(await migrate(conn, { advisoryLock, migrations: [...real, multiStatement] })).toEqual([]);

  // A failing migration is rolled back whole and reported, not recorded as applied.
  await expect(migrate(conn, { advisoryLock, migrations: [...real, multiStatement, broken] })).rejects.toThrow(
    /migration 20990102000000_broken failed: .*no_such_table/,
  );
  expect(await conn.query(`SELECT to_regclass('"Gadget"') AS t`)).toEqual([{ t: null }]);
  const recorded = await conn.query<{ migration_name: string }>('SELECT migration_name FROM "_prisma_migrations"');
  expect(recorded.map((r) => r.migration_name)).not.toContain(broken.name);

  // An applied migration that changed afterwards is refused.
  await expect(migrate(conn, { advisoryLock, migrations: [...real, { ...multiStatement, checksum: 'changed' }] })).rejects.toThrow(
    /was changed after it was applied/,
  );
}

describe('migrations on PostgreSQL', () => {
  it('applies, skips, rolls back and detects changes', async () => {
    const database = await createPostgresDatabase({ fresh: true });
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      await exercise(postgresConnection(client), true);
    } finally {
      await client.end();
      await database.drop();
    }
  });

  it('applies each migration once when several instances start together', async () => {
    const database = await createPostgresDatabase({ fresh: true });
    const clients = Array.from({ length: 4 }, () => new pg.Client({ connectionString: database.url }));
    await Promise.all(clients.map((c) => c.connect()));
    try {
      const real = await readMigrations();
      const applied = await Promise.all(
        clients.map((c) => migrate(postgresConnection(c), { advisoryLock: true, migrations: [...real, multiStatement] })),
      );
      expect(applied.flat().sort()).toEqual([...real.map((x) => x.name), multiStatement.name].sort());
      const rows = await clients[0].query('SELECT count(*)::int AS n FROM "_prisma_migrations"');
      expect(rows.rows[0].n).toBe(real.length + 1);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
      await database.drop();
    }
  });
});
